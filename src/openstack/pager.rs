//! The one follower of `next` links behind every paged listing (Glance images, Nova servers,
//! Cinder volumes, Keystone projects).
//!
//! A client says how its listing is read by implementing [`Listing`]: the request of a pass's
//! first page, and how to fetch one page and read its items and its `next` link. The
//! [`Pager`] holds what every listing shares: the next request, the requests already made in
//! this pass (the loop guard), the page count against one cap, and a listing's one restart
//! after its marker went away. Requests are opaque strings to the pager: a query for clients
//! that keep only the query of upstream links (Glance, Cinder, Keystone), a whole URL for Nova,
//! which follows its links as given.
use std::collections::HashSet;

use super::error::{OpenStackError, PagingFault, Service};

/// More pages than this in one listing means a broken `next` chain, not a big cloud: at
/// [`super::PAGE_LIMIT`] items a page, ten million items.
pub const MAX_PAGES: u32 = 10_000;

/// One page as its client read it.
pub struct Page<T> {
    pub items: Vec<T>,
    /// The request of the page after this one (as [`Listing::fetch`] takes it); `None` ends
    /// the pass.
    pub next: Option<String>,
}

/// What a client tells the pager about its listing.
pub trait Listing {
    type Item;

    /// The request of the pass's first page, also asked for again when the pass restarts.
    async fn first(&mut self) -> Result<String, OpenStackError>;

    /// Fetches the page `request` names and reads it. A malformed page is an error; entries
    /// that are not items are the client's to skip (and to warn of).
    async fn fetch(&mut self, request: &str) -> Result<Page<Self::Item>, OpenStackError>;

    /// Whether `err`, the answer to a request carrying a `marker=`, means the marker's item
    /// went away while we paged, so the pass may start over (once per listing). No by
    /// default: only Glance and Cinder say so.
    fn marker_gone(&self, err: &OpenStackError) -> bool {
        let _ = err;
        false
    }
}

/// Where the pager stands in the current pass.
#[derive(Debug, PartialEq)]
enum Next {
    /// The pass's first page, whose request the listing builds.
    First,
    /// The page a `next` link named.
    Link(String),
    /// The pass is over.
    Done,
}

/// Follows a listing's `next` links, page by page, with one loop guard and one page cap.
#[derive(Debug)]
pub struct Pager {
    /// Named in errors.
    service: Service,
    next: Next,
    /// The requests made in this pass: a link back to one of them is a loop.
    seen: HashSet<String>,
    /// Pages requested over the whole listing, every pass and restart included.
    pages: u32,
    cap: u32,
    /// The listing started a pass over once already; a second refused marker is an error.
    restarted: bool,
}

impl Pager {
    /// A pager at the start of a listing of `service`, capped at [`MAX_PAGES`].
    pub fn new(service: Service) -> Self {
        Self::with_cap(service, MAX_PAGES)
    }

    /// A pager that gives up after `cap` pages (tests use a small one).
    pub fn with_cap(service: Service, cap: u32) -> Self {
        Self {
            service,
            next: Next::First,
            seen: HashSet::new(),
            pages: 0,
            cap,
            restarted: false,
        }
    }

    /// Whether a pass started over after the service refused a marker: items already
    /// returned may then come again.
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    /// Starts another pass over the listing (Glance's hidden images) once the current one is
    /// over: its first page comes from [`Listing::first`] again and the loop guard starts
    /// afresh, while the page count and the one restart carry on.
    pub fn next_pass(&mut self) {
        self.next = Next::First;
        self.seen.clear();
    }

    /// The next page's items, or `None` when the pass is over. The request of a page is given
    /// up before it is made when it was already made in this pass ([`PagingFault::LoopsBack`])
    /// or would be past the cap ([`PagingFault::TooManyPages`]). A request with a `marker=`
    /// that the listing says names a vanished item starts the pass over, once per listing.
    /// After an error the pager stays where it was: called again, it asks for the same page,
    /// which its loop guard refuses, so a failed listing is never taken for a complete one.
    pub async fn next_page<L: Listing>(
        &mut self,
        listing: &mut L,
    ) -> Result<Option<Vec<L::Item>>, OpenStackError> {
        loop {
            let request = match &self.next {
                Next::Done => return Ok(None),
                Next::First => listing.first().await?,
                Next::Link(request) => request.clone(),
            };
            self.admit(&request)?;
            match listing.fetch(&request).await {
                Ok(page) => {
                    self.next = page.next.map_or(Next::Done, Next::Link);
                    return Ok(Some(page.items));
                }
                Err(e)
                    if !self.restarted
                        && request.contains("marker=")
                        && listing.marker_gone(&e) =>
                {
                    tracing::info!(
                        "{} rejected a paging marker; restarting the listing",
                        self.service
                    );
                    self.restarted = true;
                    self.next_pass();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Counts `request` as this pass's next page, or says why it must not be made.
    fn admit(&mut self, request: &str) -> Result<(), OpenStackError> {
        if !self.seen.insert(request.to_string()) {
            return Err(self.fault(PagingFault::LoopsBack));
        }
        self.pages += 1;
        if self.pages > self.cap {
            return Err(self.fault(PagingFault::TooManyPages { cap: self.cap }));
        }
        Ok(())
    }

    fn fault(&self, fault: PagingFault) -> OpenStackError {
        OpenStackError::Paging {
            service: self.service,
            fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A listing served from memory: each request names its items and its next link.
    struct Fake {
        first: String,
        pages: HashMap<String, (Vec<u32>, Option<String>)>,
        /// Requests answered 400 (a vanished marker), once each.
        refused: HashSet<String>,
        requests: Vec<String>,
    }

    impl Fake {
        fn new(first: &str, chain: &[(&str, &[u32], Option<&str>)]) -> Self {
            let pages = chain
                .iter()
                .map(|(at, items, next)| (at.to_string(), (items.to_vec(), next.map(String::from))))
                .collect();
            Self {
                first: first.to_string(),
                pages,
                refused: HashSet::new(),
                requests: Vec::new(),
            }
        }
    }

    impl Listing for Fake {
        type Item = u32;

        async fn first(&mut self) -> Result<String, OpenStackError> {
            Ok(self.first.clone())
        }

        async fn fetch(&mut self, request: &str) -> Result<Page<u32>, OpenStackError> {
            self.requests.push(request.to_string());
            if self.refused.remove(request) {
                return Err(OpenStackError::UpstreamStatus {
                    service: Service::Glance,
                    status: 400,
                    message: "marker not found".into(),
                });
            }
            // An unknown request continues an endless chain: `n` leads to `n+1`.
            let (items, next) = self.pages.get(request).cloned().unwrap_or_else(|| {
                let n: u32 = request.parse().unwrap_or(0);
                (vec![n], Some((n + 1).to_string()))
            });
            Ok(Page { items, next })
        }

        fn marker_gone(&self, err: &OpenStackError) -> bool {
            err.status() == Some(400)
        }
    }

    async fn drain(pager: &mut Pager, fake: &mut Fake) -> Result<Vec<u32>, OpenStackError> {
        let mut all = Vec::new();
        while let Some(items) = pager.next_page(fake).await? {
            all.extend(items);
        }
        Ok(all)
    }

    #[tokio::test]
    async fn links_are_followed_to_the_end() {
        let mut fake = Fake::new(
            "limit=2",
            &[
                ("limit=2", &[1, 2], Some("limit=2&marker=2")),
                ("limit=2&marker=2", &[3, 4], Some("limit=2&marker=4")),
                ("limit=2&marker=4", &[5], None),
            ],
        );
        let mut pager = Pager::new(Service::Glance);
        assert_eq!(drain(&mut pager, &mut fake).await.unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(
            fake.requests,
            ["limit=2", "limit=2&marker=2", "limit=2&marker=4"]
        );
        assert!(pager.next_page(&mut fake).await.unwrap().is_none());
        assert_eq!(
            fake.requests.len(),
            3,
            "a finished listing asks for nothing"
        );
        assert!(!pager.restarted());
    }

    #[tokio::test]
    async fn a_link_back_to_a_page_already_read_is_refused_before_it_is_requested() {
        let mut fake = Fake::new("a", &[("a", &[1], Some("b")), ("b", &[2], Some("a"))]);
        let mut pager = Pager::new(Service::Nova);
        let err = drain(&mut pager, &mut fake).await.unwrap_err();
        assert!(
            matches!(
                err,
                OpenStackError::Paging {
                    service: Service::Nova,
                    fault: PagingFault::LoopsBack
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Nova paging is inconsistent: the next link points to a page already read"
        );
        assert_eq!(fake.requests, ["a", "b"]);
        // Called again, the failed listing still fails rather than pass for complete.
        assert!(pager.next_page(&mut fake).await.is_err());
    }

    #[tokio::test]
    async fn a_chain_longer_than_the_cap_is_given_up() {
        let mut fake = Fake::new("0", &[]);
        let mut pager = Pager::with_cap(Service::Cinder, 3);
        let err = drain(&mut pager, &mut fake).await.unwrap_err();
        assert!(
            matches!(
                err,
                OpenStackError::Paging {
                    service: Service::Cinder,
                    fault: PagingFault::TooManyPages { cap: 3 }
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Cinder paging is inconsistent: more than 3 pages"
        );
        assert_eq!(
            fake.requests,
            ["0", "1", "2"],
            "the fourth page is not asked for"
        );
        assert_eq!(
            Pager::new(Service::Nova)
                .fault(PagingFault::TooManyPages { cap: MAX_PAGES })
                .to_string(),
            "Nova paging is inconsistent: more than 10000 pages"
        );
    }

    #[test]
    fn the_loop_guard_and_the_cap_are_told_apart() {
        let pager = Pager::new(Service::Glance);
        let looped = pager.fault(PagingFault::LoopsBack);
        let capped = pager.fault(PagingFault::TooManyPages { cap: MAX_PAGES });
        let fault = |e: &OpenStackError| match e {
            OpenStackError::Paging { fault, .. } => Some(*fault),
            _ => None,
        };
        assert_ne!(fault(&looped), fault(&capped));
        assert_ne!(looped.to_string(), capped.to_string());
        assert!(matches!(looped, OpenStackError::Paging { .. }));
        assert!(matches!(capped, OpenStackError::Paging { .. }));
    }

    #[tokio::test]
    async fn a_vanished_marker_restarts_the_pass_once() {
        let chain: &[(&str, &[u32], Option<&str>)] =
            &[("q", &[1], Some("q&marker=1")), ("q&marker=1", &[2], None)];
        let mut fake = Fake::new("q", chain);
        fake.refused.insert("q&marker=1".into());
        let mut pager = Pager::new(Service::Glance);
        assert_eq!(drain(&mut pager, &mut fake).await.unwrap(), [1, 1, 2]);
        assert!(pager.restarted());
        assert_eq!(fake.requests, ["q", "q&marker=1", "q", "q&marker=1"]);

        // A second refusal in the same listing is the caller's error.
        let mut fake = Fake::new("q", chain);
        fake.refused.insert("q&marker=1".into());
        let mut pager = Pager::new(Service::Glance);
        assert_eq!(pager.next_page(&mut fake).await.unwrap(), Some(vec![1]));
        assert_eq!(pager.next_page(&mut fake).await.unwrap(), Some(vec![1]));
        fake.refused.insert("q&marker=1".into());
        let err = pager.next_page(&mut fake).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{err:?}");
    }

    #[tokio::test]
    async fn a_new_pass_has_a_fresh_loop_guard_but_the_same_page_count() {
        let mut fake = Fake::new("p", &[("p", &[1], Some("p2")), ("p2", &[2], None)]);
        let mut pager = Pager::with_cap(Service::Glance, 3);
        assert_eq!(drain(&mut pager, &mut fake).await.unwrap(), [1, 2]);
        pager.next_pass();
        assert_eq!(pager.next_page(&mut fake).await.unwrap(), Some(vec![1]));
        let err = pager.next_page(&mut fake).await.unwrap_err();
        assert!(
            matches!(
                err,
                OpenStackError::Paging {
                    fault: PagingFault::TooManyPages { cap: 3 },
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
