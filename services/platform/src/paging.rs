//! What every list call shares: the page it returns and how many rows a request may ask for.
//! (The token that continues a list is in [`page_token`](crate::page_token).)

/// One page of results and the token of the next (empty on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

/// Largest `max_page_size` a service may configure: a page is one query and one response.
pub const MAX_PAGE_SIZE_LIMIT: u32 = 10_000;

/// A service's page-size bounds, from its `default_page_size` and `max_page_size` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Rows of a page when the request asks for 0 (no preference).
    pub default_page_size: u32,
    /// Most rows of one page; a larger request is served this many.
    pub max_page_size: u32,
}

impl Paging {
    pub fn new(default_page_size: u32, max_page_size: u32) -> Self {
        Self {
            default_page_size,
            max_page_size,
        }
    }

    /// Rows to return for a requested `page_size` (negative sizes are refused by the adapter
    /// before this): 0 asks for the default, more than the maximum gets the maximum.
    pub fn limit(&self, requested: u32) -> u64 {
        u64::from(if requested == 0 {
            self.default_page_size
        } else {
            requested.min(self.max_page_size)
        })
    }

    /// Config problems of the `section` (e.g. `customers`) these bounds come from.
    pub fn validate(&self, section: &str, p: &mut Vec<String>) {
        if self.default_page_size == 0 || self.default_page_size > self.max_page_size {
            p.push(format!(
                "{section}: need 0 < default_page_size <= max_page_size"
            ));
        }
        if self.max_page_size > MAX_PAGE_SIZE_LIMIT {
            p.push(format!(
                "{section}.max_page_size: must be at most {MAX_PAGE_SIZE_LIMIT}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_sizes_map_to_limits() {
        let paging = Paging::new(50, 1000);
        for (requested, limit) in [(0, 50), (1, 1), (50, 50), (1000, 1000), (1001, 1000)] {
            assert_eq!(paging.limit(requested), limit, "requested {requested}");
        }
        assert_eq!(paging.limit(u32::MAX), 1000);
    }

    #[test]
    fn bad_bounds_are_config_problems() {
        let cases = [
            (Paging::new(50, 1000), 0),
            (Paging::new(0, 1000), 1),
            (Paging::new(51, 50), 1),
            (Paging::new(50, MAX_PAGE_SIZE_LIMIT + 1), 1),
            (Paging::new(0, MAX_PAGE_SIZE_LIMIT + 1), 2),
        ];
        for (paging, problems) in cases {
            let mut p = Vec::new();
            paging.validate("svc", &mut p);
            assert_eq!(p.len(), problems, "{paging:?}: {p:?}");
            assert!(p.iter().all(|m| m.starts_with("svc")), "{p:?}");
        }
    }
}
