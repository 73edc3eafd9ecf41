//! Page-number pagination with the rules of Django REST framework, which Waldur clients expect.

pub const DEFAULT_PAGE_SIZE: u64 = 10;
pub const MAX_PAGE_SIZE: u64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageNumber {
    Number(u64),
    Last,
}

/// A requested page; `resolve` checks it against the total once that is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub number: PageNumber,
    pub size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedPage {
    pub number: u64,
    pub size: u64,
    pub total: u64,
    pub pages: u64,
}

impl ResolvedPage {
    pub fn offset(&self) -> u64 {
        (self.number - 1) * self.size
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct InvalidPage;

impl PageRequest {
    /// Parses raw `page` and `page_size` values. A bad `page` is an error (DRF answers 404 for
    /// it); a bad or zero `page_size` falls back to the default and a large one is clamped.
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<Self, InvalidPage> {
        let number = match page.map(str::trim) {
            None => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n >= 1 => PageNumber::Number(n),
                _ => return Err(InvalidPage),
            },
        };
        let size = match page_size.map(|s| s.trim().parse::<u64>()) {
            Some(Ok(n)) if n >= 1 => n.min(MAX_PAGE_SIZE),
            _ => DEFAULT_PAGE_SIZE,
        };
        Ok(Self { number, size })
    }

    /// Resolves against a whole result held in memory and returns the page's slice of it.
    pub fn slice<'a, T>(&self, all: &'a [T]) -> Result<(ResolvedPage, &'a [T]), InvalidPage> {
        let page = self.resolve(all.len() as u64)?;
        let start = (page.offset() as usize).min(all.len());
        let end = start.saturating_add(page.size as usize).min(all.len());
        Ok((page, &all[start..end]))
    }

    pub fn resolve(&self, total: u64) -> Result<ResolvedPage, InvalidPage> {
        let pages = total.div_ceil(self.size).max(1);
        let number = match self.number {
            PageNumber::Last => pages,
            PageNumber::Number(n) if n <= pages => n,
            PageNumber::Number(_) => return Err(InvalidPage),
        };
        Ok(ResolvedPage {
            number,
            size: self.size,
            total,
            pages,
        })
    }
}

/// One page of results plus where it sits.
#[derive(Debug)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: ResolvedPage,
}

impl<T> Paged<T> {
    /// The same page with each item turned into another shape.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_clamps() {
        let size = |s| PageRequest::parse(None, s).unwrap().size;
        assert_eq!(size(None), 10);
        assert_eq!(size(Some("0")), 10);
        assert_eq!(size(Some("-3")), 10);
        assert_eq!(size(Some("abc")), 10);
        assert_eq!(size(Some("301")), 300);
        assert_eq!(size(Some("25")), 25);
    }

    #[test]
    fn bad_pages_are_invalid() {
        for bad in ["0", "-1", "x", "1.5", ""] {
            assert_eq!(
                PageRequest::parse(Some(bad), None),
                Err(InvalidPage),
                "{bad}"
            );
        }
        let req = PageRequest::parse(Some("3"), Some("10")).unwrap();
        assert_eq!(req.resolve(20), Err(InvalidPage));
        assert_eq!(req.resolve(21).unwrap().offset(), 20);
        let all: Vec<u32> = (0..21).collect();
        assert_eq!(req.slice(&all).unwrap().1, [20]);
        assert_eq!(req.slice(&all[..20]), Err(InvalidPage));
    }

    #[test]
    fn empty_results_still_have_a_first_page() {
        let first = PageRequest::parse(None, None).unwrap().resolve(0).unwrap();
        assert_eq!((first.number, first.pages), (1, 1));
        let last = PageRequest::parse(Some("last"), Some("7")).unwrap();
        assert_eq!(last.resolve(15).unwrap().number, 3);
        assert!(
            PageRequest::parse(Some("2"), None)
                .unwrap()
                .resolve(0)
                .is_err()
        );
    }
}
