//! The query parameters and body shape shared by REST lists that are paged and have no
//! filters of their own.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::services::page::{Page, PageRequest};

/// Which page of a list to return.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size (default 20, at most 100).
    limit: Option<i64>,
    /// `next_cursor` of the previous page; absent for the first page.
    cursor: Option<String>,
}

impl PageParams {
    /// The page request, with errors naming these parameters.
    pub fn request(self) -> PageRequest {
        page_request(self.limit, self.cursor)
    }
}

/// REST's `limit`/`cursor` as a service page request. REST answers always carry
/// `total_count`, so it is always counted.
pub fn page_request(limit: Option<i64>, cursor: Option<String>) -> PageRequest {
    PageRequest {
        size: limit,
        after: cursor,
        size_field: "limit",
        cursor_field: "cursor",
        with_total: true,
    }
}

/// One page of a list; `next_cursor` is absent on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    /// Items in the list across all pages.
    pub total_count: i64,
}

impl<T> From<Page<T>> for Paged<T> {
    fn from(page: Page<T>) -> Self {
        let next_cursor = page.next_cursor();
        Paged {
            items: page.items.into_iter().map(|(_, item)| item).collect(),
            next_cursor,
            total_count: page.total_count,
        }
    }
}
