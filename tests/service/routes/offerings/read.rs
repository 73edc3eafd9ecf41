//! GET `/api/offerings/` and `/api/offerings/{uuid}/`.
use super::two_offerings;
use crate::common::Offering;

#[tokio::test]
async fn offerings_are_listed_and_read_back_as_created() {
    let (app, o1, _) = two_offerings().await;
    let list = app.get("/api/offerings/").await;
    assert_eq!(list.names(), ["cloud offering", "tenant offering"]);
    assert_eq!(app.get(app.path_of(&o1.url)).await.parse::<Offering>(), o1);
    app.stop().await;
}
