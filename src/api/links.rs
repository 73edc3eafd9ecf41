//! The `Link` and `X-Result-Count` headers of a paginated list, as Waldur sends them.
use crate::catalog::paging::ResolvedPage;

/// Query parameters that must never be echoed back in a URL.
const SECRET_PARAMS: [&str; 1] = ["x-auth-token"];

/// Whether the query has a parameter that must never be echoed back or remembered.
pub fn has_secret(query: &str) -> bool {
    !query.is_empty()
        && url::form_urlencoded::parse(query.as_bytes())
            .any(|(k, _)| SECRET_PARAMS.contains(&k.as_ref()))
}

/// `<url>; rel="first"`, `rel="prev"`, `rel="next"`, `rel="last"`, comma separated; prev and
/// next only where they exist. Other query parameters are kept (sorted, like DRF does).
pub fn link_header(base: &str, path: &str, query: Option<&str>, page: &ResolvedPage) -> String {
    let pairs: Vec<(String, String)> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "page" && !SECRET_PARAMS.contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let url_for = |number: u64| {
        let mut params = pairs.clone();
        if number > 1 {
            params.push(("page".into(), number.to_string()));
        }
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        if encoded.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{encoded}")
        }
    };
    let mut links = vec![(url_for(1), "first")];
    if page.number > 1 {
        links.push((url_for(page.number - 1), "prev"));
    }
    if page.number < page.pages {
        links.push((url_for(page.number + 1), "next"));
    }
    links.push((url_for(page.pages), "last"));
    links
        .iter()
        .map(|(url, rel)| format!("<{url}>; rel=\"{rel}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(number: u64, pages: u64) -> ResolvedPage {
        ResolvedPage {
            number,
            size: 10,
            total: pages * 10,
            pages,
        }
    }

    #[test]
    fn middle_page_has_all_four_links_and_keeps_filters() {
        let h = link_header(
            "http://x",
            "/api/openstack-images/",
            Some("page=2&name=ub&page_size=10&x-auth-token=s3cret"),
            &page(2, 3),
        );
        assert_eq!(
            h,
            "<http://x/api/openstack-images/?name=ub&page_size=10>; rel=\"first\", \
             <http://x/api/openstack-images/?name=ub&page_size=10>; rel=\"prev\", \
             <http://x/api/openstack-images/?name=ub&page=3&page_size=10>; rel=\"next\", \
             <http://x/api/openstack-images/?name=ub&page=3&page_size=10>; rel=\"last\""
        );
        assert!(!h.contains("s3cret"));
    }

    #[test]
    fn single_page_has_first_and_last_only() {
        let h = link_header("http://x", "/p/", None, &page(1, 1));
        assert_eq!(
            h,
            "<http://x/p/>; rel=\"first\", <http://x/p/>; rel=\"last\""
        );
    }
}
