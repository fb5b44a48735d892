//! Cursor pagination shared by every list: keyset cursors that name their sort order, and
//! page sizes checked against the door's own field names.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Error;
pub use stateset_db::Keyset;

/// Default and largest page sizes.
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// Which page of a list to return. Field names are those of the calling door, so that
/// errors name what the caller actually sent.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Page size (default 20, at most 100).
    pub size: Option<i64>,
    /// The opaque cursor of the last item already seen.
    pub after: Option<String>,
    /// How the door calls the size (`first`, `limit`, `page_size`).
    pub size_field: &'static str,
    /// How the door calls the cursor (`after`, `cursor`, `page_token`).
    pub cursor_field: &'static str,
    /// Whether the caller reads `total_count`. Counting every match is a second scan of the
    /// filter, so a GraphQL query that does not select `totalCount` skips it.
    pub with_total: bool,
}

/// One page of a list, each item with its cursor.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(String, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Items matching the filter across all pages.
    pub total_count: i64,
}

impl<T> Page<T> {
    /// The cursor to ask for the next page with, when there is one.
    pub fn next_cursor(&self) -> Option<String> {
        if self.has_next_page {
            self.items.last().map(|(c, _)| c.clone())
        } else {
            None
        }
    }

    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        let (cursors, items): (Vec<String>, Vec<T>) = self.items.into_iter().unzip();
        Page {
            items: cursors.into_iter().zip(items.into_iter().map(f)).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            total_count: self.total_count,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The sort order the cursor belongs to.
    s: String,
    #[serde(flatten)]
    at: Keyset,
}

/// The opaque cursor of a row at `at` in a list sorted by `sort`.
pub fn encode_cursor(sort: &str, at: Keyset) -> String {
    let json = serde_json::to_vec(&Cursor {
        s: sort.to_owned(),
        at,
    })
    .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

impl PageRequest {
    /// The total count from `count` when the caller asked for it, else 0 without running it.
    pub async fn total<E>(&self, count: impl Future<Output = Result<i64, E>>) -> Result<i64, Error>
    where
        Error: From<E>,
    {
        if self.with_total {
            Ok(count.await?)
        } else {
            Ok(0)
        }
    }

    /// The checked page size.
    pub fn limit(&self) -> Result<i64, Error> {
        let limit = self.size.unwrap_or(DEFAULT_PAGE);
        if (1..=MAX_PAGE).contains(&limit) {
            Ok(limit)
        } else {
            Err(Error::invalid(
                self.size_field,
                format!("must be between 1 and {MAX_PAGE}"),
            ))
        }
    }

    /// Where the page starts, from a cursor of the same list in the same `sort` order.
    pub fn keyset(&self, sort: &str) -> Result<Option<Keyset>, Error> {
        let Some(raw) = &self.after else {
            return Ok(None);
        };
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok())
            .ok_or_else(|| {
                Error::invalid(self.cursor_field, "is not a cursor returned by this list")
            })?;
        if cursor.s != sort {
            return Err(Error::invalid(
                self.cursor_field,
                "belongs to a list in another sort order",
            ));
        }
        Ok(Some(cursor.at))
    }

    /// Builds the page from up to `limit + 1` rows (one more than asked tells whether another
    /// page follows), each turned into its cursor position and item.
    pub fn page<R, T>(
        &self,
        sort: &str,
        limit: i64,
        mut rows: Vec<R>,
        total_count: i64,
        position: impl Fn(&R) -> Keyset,
        item: impl FnMut(R) -> T,
    ) -> Page<T> {
        let has_next_page = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let cursors: Vec<String> = rows
            .iter()
            .map(|row| encode_cursor(sort, position(row)))
            .collect();
        Page {
            items: cursors
                .into_iter()
                .zip(rows.into_iter().map(item))
                .collect(),
            has_next_page,
            has_previous_page: self.after.is_some(),
            total_count,
        }
    }
}
