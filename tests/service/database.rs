//! The database set-up.

/// The first write after migrating a fresh database sees the whole schema (pool connections
/// opened before a migration once returned no value for a column it added).
#[tokio::test(flavor = "multi_thread")]
async fn a_freshly_migrated_database_takes_writes_at_once() {
    for round in 0..10 {
        let created = crate::common::internals::first_write_after_migrating(round).await;
        assert!(created.is_ok(), "round {round}: {:?}", created.err());
    }
}
