//! Describing a query to store: model, explore, fields, filters, sorts, limit.

use std::collections::BTreeMap;

use haul_client::looker_query_tasks::types::WriteQuery;

/// A query to store with [`Looker::create_query`](super::Looker::create_query).
///
/// ```
/// use haul::looker::Query;
///
/// let query = Query::new("thelook", "orders")
///     .fields(["orders.created_date", "orders.count"])
///     .filter("orders.status", "Complete")
///     .sort("orders.created_date desc")
///     .limit(500);
/// # let _ = query;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Query {
    model: String,
    view: String,
    fields: Vec<String>,
    pivots: Vec<String>,
    filters: BTreeMap<String, String>,
    filter_expression: Option<String>,
    sorts: Vec<String>,
    limit: Option<String>,
    query_timezone: Option<String>,
    total: Option<bool>,
}

impl Query {
    /// A query of the explore `view` in the LookML `model`.
    pub fn new(model: impl Into<String>, view: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            view: view.into(),
            fields: Vec::new(),
            pivots: Vec::new(),
            filters: BTreeMap::new(),
            filter_expression: None,
            sorts: Vec::new(),
            limit: None,
            query_timezone: None,
            total: None,
        }
    }

    /// Adds fields to select, as `view.field`.
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields.extend(fields.into_iter().map(Into::into));
        self
    }

    /// Adds fields to pivot on.
    pub fn pivots<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pivots.extend(fields.into_iter().map(Into::into));
        self
    }

    /// Filters `field` with a Looker filter expression such as `Complete`, `-Cancelled`, `>100` or
    /// `after 2024-01-01`; a second filter on the same field replaces the first.
    pub fn filter(mut self, field: impl Into<String>, expression: impl Into<String>) -> Self {
        self.filters.insert(field.into(), expression.into());
        self
    }

    /// A custom filter expression (Looker expression syntax) on top of the field filters.
    pub fn filter_expression(mut self, expression: impl Into<String>) -> Self {
        self.filter_expression = Some(expression.into());
        self
    }

    /// Adds a sort: `view.field` ascending or `view.field desc`. Without any, Looker sorts by default.
    pub fn sort(mut self, sort: impl Into<String>) -> Self {
        self.sorts.push(sort.into());
        self
    }

    /// At most `rows` rows (Looker's default is 500 when no limit is set).
    pub fn limit(mut self, rows: u64) -> Self {
        self.limit = Some(rows.to_string());
        self
    }

    /// No row limit (Looker's `-1`).
    pub fn unlimited(mut self) -> Self {
        self.limit = Some("-1".into());
        self
    }

    /// The time zone the query runs in, such as `America/Los_Angeles`.
    pub fn query_timezone(mut self, zone: impl Into<String>) -> Self {
        self.query_timezone = Some(zone.into());
        self
    }

    /// Whether to compute column totals.
    pub fn total(mut self, total: bool) -> Self {
        self.total = Some(total);
        self
    }

    /// The body of `POST /queries`; empty lists are left out so that Looker applies its defaults.
    pub(crate) fn into_body(self) -> WriteQuery {
        let non_empty = |list: Vec<String>| (!list.is_empty()).then_some(list);
        WriteQuery {
            model: self.model,
            view: self.view,
            fields: non_empty(self.fields),
            pivots: non_empty(self.pivots),
            filters: (!self.filters.is_empty()).then_some(self.filters),
            filter_expression: self.filter_expression,
            sorts: non_empty(self.sorts),
            limit: self.limit,
            query_timezone: self.query_timezone,
            total: self.total,
            client_id: None,
            column_limit: None,
            dynamic_fields: None,
            fill_fields: None,
            filter_config: None,
            row_total: None,
            subtotals: None,
            vis_config: None,
            visible_ui_sections: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_what_was_set_and_leaves_the_rest_to_looker() {
        let body = Query::new("thelook", "orders")
            .fields(["orders.status", "orders.count"])
            .filter("orders.status", "Complete")
            .sort("orders.count desc")
            .limit(500)
            .into_body();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "model": "thelook",
                "view": "orders",
                "fields": ["orders.status", "orders.count"],
                "filters": {"orders.status": "Complete"},
                "sorts": ["orders.count desc"],
                "limit": "500",
            })
        );
        assert_eq!(
            Query::new("m", "v")
                .unlimited()
                .into_body()
                .limit
                .as_deref(),
            Some("-1")
        );
    }
}
