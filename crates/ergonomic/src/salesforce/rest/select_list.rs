//! The columns of a SOQL query, read from its SELECT list: what a REST query's records are
//! written as, in the order the query names them (as Bulk API results are), and what
//! [`Salesforce::query_schema`](crate::Salesforce::query_schema) types.

/// One item of a SELECT list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A field path as written: `Id`, `Owner.Name`.
    Path(String),
    /// An aggregate or function, by its column name: its alias, or Salesforce's `expr0`, ...
    Expression(String),
}

impl Item {
    /// The column's name.
    pub(crate) fn column(&self) -> &str {
        match self {
            Self::Path(name) | Self::Expression(name) => name,
        }
    }
}

/// The columns of `soql`'s SELECT list, in order: field paths as written (`Id`, `Owner.Name`),
/// aliases of aggregates (`total` in `SUM(Amount) total`), and Salesforce's `expr0`, `expr1`, ...
/// for unaliased ones. Parent-to-child subqueries are left out: they do not fit in one row.
/// `None` when the list cannot be known from the text (`FIELDS(ALL)`, `TYPEOF`), so that the caller
/// takes the columns from the records instead.
pub fn select_columns(soql: &str) -> Option<Vec<String>> {
    Some(
        items(soql)?
            .iter()
            .map(|item| item.column().to_owned())
            .collect(),
    )
}

/// The items of `soql`'s SELECT list, in order (see [`select_columns`]).
pub(crate) fn items(soql: &str) -> Option<Vec<Item>> {
    let (list, _) = split_select(soql)?;
    let mut items = Vec::new();
    let mut unaliased = 0;
    for item in split_top_level(list) {
        let item = item.trim();
        let upper = item.to_ascii_uppercase();
        if item.is_empty() || upper.starts_with("FIELDS(") || upper.starts_with("TYPEOF ") {
            return None;
        }
        if item.starts_with('(') {
            continue;
        }
        match item.rfind(')') {
            Some(close) => {
                let alias = item[close + 1..].trim();
                if alias.is_empty() {
                    items.push(Item::Expression(format!("expr{unaliased}")));
                    unaliased += 1;
                } else {
                    items.push(Item::Expression(alias.to_owned()));
                }
            }
            None => items.push(Item::Path(item.split_whitespace().next()?.to_owned())),
        }
    }
    (!items.is_empty()).then_some(items)
}

/// The object `soql` queries: the name after its top-level `FROM`.
pub(crate) fn from_object(soql: &str) -> Option<&str> {
    let (_, rest) = split_select(soql)?;
    let name = rest.split(|c: char| c.is_whitespace() || c == ',').next()?;
    (!name.is_empty()).then_some(name)
}

/// The SELECT list (the text between the leading `SELECT` and the `FROM` at the top level) and the
/// text after that `FROM`.
fn split_select(soql: &str) -> Option<(&str, &str)> {
    let list = select_list(soql)?;
    let start = list.as_ptr() as usize - soql.as_ptr() as usize + list.len();
    let rest = soql[start..].get(4..)?.trim_start();
    Some((list, rest))
}

/// The text between the leading `SELECT` and the `FROM` at the top level (outside parentheses and
/// quotes).
fn select_list(soql: &str) -> Option<&str> {
    let trimmed = soql.trim_start();
    let head = trimmed.get(..6)?;
    if !head.eq_ignore_ascii_case("select") || !trimmed[6..].starts_with(char::is_whitespace) {
        return None;
    }
    let rest = &trimmed[6..];
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    let bytes = rest.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        // SOQL escapes a quote inside a string with a backslash: 'O\'Brien'.
        if std::mem::take(&mut escaped) {
            continue;
        }
        match byte {
            b'\\' if quoted => escaped = true,
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            _ if quoted || depth > 0 => {}
            _ if is_keyword_at(bytes, i, b"from") => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// Whether `keyword` stands alone at `at`: whitespace before it and whitespace after.
fn is_keyword_at(bytes: &[u8], at: usize, keyword: &[u8]) -> bool {
    let end = at + keyword.len();
    at > 0
        && bytes[at - 1].is_ascii_whitespace()
        && bytes.len() > end
        && bytes[end].is_ascii_whitespace()
        && bytes[at..end].eq_ignore_ascii_case(keyword)
}

/// The comma-separated items of a list, commas inside parentheses and quotes left alone.
fn split_top_level(list: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0usize, false, false, 0);
    for (i, c) in list.char_indices() {
        if std::mem::take(&mut escaped) {
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(soql: &str) -> Option<Vec<String>> {
        select_columns(soql)
    }

    #[test]
    fn the_object_is_the_name_after_the_top_level_from() {
        assert_eq!(
            from_object("SELECT Id, (SELECT Id FROM Contacts) FROM Account WHERE Name = 'x'"),
            Some("Account")
        );
        assert_eq!(from_object("select id\nfrom  Contact\n"), Some("Contact"));
        assert_eq!(from_object("SELECT Id FROM x__c LIMIT 5"), Some("x__c"));
        assert_eq!(
            items("SELECT Id, COUNT(Name) n FROM Account"),
            Some(vec![Item::Path("Id".into()), Item::Expression("n".into())])
        );
    }

    #[test]
    fn fields_and_relationship_paths_keep_their_order_and_spelling() {
        assert_eq!(
            cols(
                "SELECT Id, Name, Owner.Name, Account.Owner.Email FROM Contact WHERE Name != 'a, from b'"
            ),
            Some(vec![
                "Id".into(),
                "Name".into(),
                "Owner.Name".into(),
                "Account.Owner.Email".into()
            ])
        );
        assert_eq!(
            cols("select id,name\nfrom account where name = 'O\\'Brien from x'"),
            Some(vec!["id".into(), "name".into()])
        );
    }

    #[test]
    fn aggregates_take_their_alias_or_salesforces_expr_names() {
        assert_eq!(
            cols(
                "SELECT StageName, COUNT(Id), SUM(Amount) total, MAX(CloseDate) FROM Opportunity GROUP BY StageName"
            ),
            Some(vec![
                "StageName".into(),
                "expr0".into(),
                "total".into(),
                "expr1".into()
            ])
        );
    }

    #[test]
    fn subqueries_are_left_out_and_unknowable_lists_give_none() {
        assert_eq!(
            cols("SELECT Name, (SELECT LastName FROM Contacts) FROM Account"),
            Some(vec!["Name".into()])
        );
        assert_eq!(cols("SELECT FIELDS(ALL) FROM Account LIMIT 200"), None);
        assert_eq!(
            cols("SELECT TYPEOF What WHEN Account THEN Phone END FROM Event"),
            None
        );
        assert_eq!(cols("DELETE FROM x"), None);
        assert_eq!(cols("SELECT Id"), None);
        assert_eq!(cols("SELECTId FROM Account"), None);
    }
}
