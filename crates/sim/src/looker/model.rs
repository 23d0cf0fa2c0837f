//! The LookML model `thelook` (Looker's demo e-commerce model): views, explores, and generated rows.
//!
//! An explore's row `i` is a row of its base view; joined views are reached through generated
//! foreign keys (an order item's order, an order's user, an item's product), so every value is a
//! function of (seed, view, index).

use serde_json::Value;

use crate::shared::rng::{hash_str, mix};

/// Whether a field is a dimension or a measure, and how it behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A number dimension.
    Number,
    /// A text dimension.
    Text,
    /// A date dimension (`YYYY-MM-DD`): a dimension group's `date` timeframe.
    Date,
    /// A date-time dimension (`YYYY-MM-DD HH:MM:SS`, in the query's time zone, without an offset):
    /// a dimension group's `time` timeframe.
    Time,
    /// A `yesno` dimension: `"Yes"` or `"No"`.
    YesNo,
    /// A dimension whose SQL fails: selecting it makes the task end in `error`.
    Broken,
    /// `count` of distinct rows of the view.
    Count,
    /// Sum of a number dimension of the same view.
    Sum(&'static str),
    /// Average of a number dimension of the same view.
    Average(&'static str),
}

impl Kind {
    pub(crate) fn is_measure(self) -> bool {
        matches!(self, Self::Count | Self::Sum(_) | Self::Average(_))
    }

    /// Looker's type name in field metadata.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Text | Self::Broken => "string",
            Self::Date => "date_date",
            Self::Time => "date_time",
            Self::YesNo => "yesno",
            Self::Count => "count",
            Self::Sum(_) => "sum",
            Self::Average(_) => "average",
        }
    }
}

/// One field of a view.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LField {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

/// One view.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [LField],
    pub(crate) default_rows: u64,
}

/// One explore: a base view and the views joined to it.
#[derive(Debug)]
pub(crate) struct Explore {
    pub(crate) name: &'static str,
    pub(crate) views: &'static [&'static str],
}

const fn f(name: &'static str, kind: Kind) -> LField {
    LField { name, kind }
}

/// The model's name.
pub(crate) const MODEL: &str = "thelook";

pub(crate) static VIEWS: &[View] = &[
    View {
        name: "users",
        default_rows: 5_000,
        fields: &[
            f("id", Kind::Number),
            f("first_name", Kind::Text),
            f("last_name", Kind::Text),
            f("email", Kind::Text),
            f("age", Kind::Number),
            f("gender", Kind::Text),
            f("city", Kind::Text),
            f("state", Kind::Text),
            f("country", Kind::Text),
            f("created_date", Kind::Date),
            f("count", Kind::Count),
            f("average_age", Kind::Average("age")),
        ],
    },
    View {
        name: "orders",
        default_rows: 12_000,
        fields: &[
            f("id", Kind::Number),
            f("user_id", Kind::Number),
            f("status", Kind::Text),
            f("created_date", Kind::Date),
            f("created_time", Kind::Time),
            f("bad_sql", Kind::Broken),
            f("count", Kind::Count),
        ],
    },
    View {
        name: "order_items",
        default_rows: 30_000,
        fields: &[
            f("id", Kind::Number),
            f("order_id", Kind::Number),
            f("sale_price", Kind::Number),
            f("returned_date", Kind::Date),
            f("is_returned", Kind::YesNo),
            f("count", Kind::Count),
            f("total_sale_price", Kind::Sum("sale_price")),
            f("average_sale_price", Kind::Average("sale_price")),
        ],
    },
    View {
        name: "products",
        default_rows: 2_000,
        fields: &[
            f("id", Kind::Number),
            f("category", Kind::Text),
            f("brand", Kind::Text),
            f("name", Kind::Text),
            f("retail_price", Kind::Number),
            f("count", Kind::Count),
        ],
    },
];

pub(crate) static EXPLORES: &[Explore] = &[
    Explore {
        name: "users",
        views: &["users"],
    },
    Explore {
        name: "orders",
        views: &["orders", "users"],
    },
    Explore {
        name: "order_items",
        views: &["order_items", "orders", "users", "products"],
    },
];

const STATES: &[&str] = &[
    "California",
    "New York",
    "Texas",
    "Washington",
    "Illinois",
    "Florida",
    "Oregon",
    "Ohio",
];
const CITIES: &[&str] = &[
    "Los Angeles",
    "New York",
    "Houston",
    "Seattle",
    "Chicago",
    "Miami",
    "Portland",
    "Columbus",
];
const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "June",
];
const LAST: &[&str] = &[
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "O'Neil",
    "Garcia, Jr.",
    "Hill",
];
const STATUSES: &[&str] = &["Complete", "Processing", "Shipped", "Cancelled", "Returned"];
const CATEGORIES: &[&str] = &[
    "Jeans",
    "Tops & Tees",
    "Sweaters",
    "Outerwear & Coats",
    "Accessories",
    "Shorts",
];
const BRANDS: &[&str] = &[
    "Levi's",
    "Calvin Klein",
    "Carhartt",
    "\"Quoted\" Co",
    "Patagonia",
    "Ray-Ban",
];

/// A field by its qualified name `view.field`.
pub(crate) fn field(qualified: &str) -> Option<(&'static View, &'static LField)> {
    let (view, name) = qualified.split_once('.')?;
    let view = VIEWS.iter().find(|v| v.name == view)?;
    Some((view, view.fields.iter().find(|f| f.name == name)?))
}

pub(crate) fn explore(name: &str) -> Option<&'static Explore> {
    EXPLORES.iter().find(|e| e.name == name)
}

/// A human label: `users.created_date` → `Users Created Date`.
pub(crate) fn label(qualified: &str) -> String {
    qualified
        .split(['.', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|first| first.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Row counts and seed of the model's data.
#[derive(Debug, Clone)]
pub(crate) struct Data {
    seed: u64,
    rows: Vec<u64>,
}

impl Data {
    pub(crate) fn new(seed: u64, rows: impl Fn(&str) -> Option<u64>) -> Self {
        let rows = VIEWS
            .iter()
            .map(|v| rows(&format!("{MODEL}.{}", v.name)).unwrap_or(v.default_rows))
            .collect();
        Self { seed, rows }
    }

    pub(crate) fn rows_of(&self, view: &str) -> u64 {
        VIEWS
            .iter()
            .position(|v| v.name == view)
            .map_or(0, |i| self.rows[i])
    }

    fn h(&self, view: &str, field: &str, index: u64) -> u64 {
        mix(self.seed
            ^ hash_str(view)
            ^ hash_str(field).rotate_left(17)
            ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The index of `view`'s row joined to row `index` of `explore`'s base view.
    pub(crate) fn joined(&self, explore: &Explore, view: &str, index: u64) -> u64 {
        let pick = |v: &str, salt: &str, i: u64| self.h(v, salt, i) % self.rows_of(v).max(1);
        let order_of_item =
            |i: u64| i * self.rows_of("orders").max(1) / self.rows_of("order_items").max(1);
        match (explore.name, view) {
            (_, v) if v == explore.views[0] => index,
            ("orders", "users") => pick("orders", "user", index),
            ("order_items", "orders") => order_of_item(index),
            ("order_items", "users") => pick("orders", "user", order_of_item(index)),
            ("order_items", "products") => pick("order_items", "product", index),
            _ => index,
        }
    }

    /// A dimension's value for row `index` of its view.
    pub(crate) fn value(&self, view: &str, field: &str, index: u64) -> Value {
        let h = self.h(view, field, index);
        let pick = |list: &[&str]| Value::from(list[(h % list.len() as u64) as usize]);
        let date = |span: u64| {
            let day = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default()
                + chrono::Days::new(h % span);
            Value::from(day.format("%Y-%m-%d").to_string())
        };
        match (view, field) {
            (_, "id") => Value::from(index + 1),
            ("orders", "user_id") => {
                Value::from(self.h("orders", "user", index) % self.rows_of("users").max(1) + 1)
            }
            ("order_items", "order_id") => Value::from(
                index * self.rows_of("orders").max(1) / self.rows_of("order_items").max(1) + 1,
            ),
            ("users", "first_name") => pick(FIRST),
            ("users", "last_name") => pick(LAST),
            ("users", "email") => Value::from(format!("user{}@thelook.example", index + 1)),
            ("users", "age") => Value::from(18 + h % 62),
            ("users", "gender") => pick(&["Female", "Male"]),
            ("users", "city") => pick(CITIES),
            ("users", "state") => pick(STATES),
            ("users", "country") => pick(&["USA", "USA", "USA", "Canada"]),
            ("orders", "status") => pick(STATUSES),
            ("order_items", "sale_price") | ("products", "retail_price") => {
                Value::from((h % 20_000) as f64 / 100.0 + 1.0)
            }
            ("order_items", "returned_date") if !h.is_multiple_of(10) => Value::Null,
            ("order_items", "is_returned") => {
                let returned = self.h(view, "returned_date", index).is_multiple_of(10);
                Value::from(if returned { "Yes" } else { "No" })
            }
            ("orders", "created_time") => {
                let day = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default()
                    + chrono::Days::new(self.h(view, "created_date", index) % (5 * 365));
                let second =
                    chrono::NaiveTime::from_num_seconds_from_midnight_opt((h % 86_400) as u32, 0)
                        .unwrap_or_default();
                Value::from(day.and_time(second).format("%Y-%m-%d %H:%M:%S").to_string())
            }
            ("products", "category") => pick(CATEGORIES),
            ("products", "brand") => pick(BRANDS),
            ("products", "name") => Value::from(format!(
                "{} #{}",
                BRANDS[(h % BRANDS.len() as u64) as usize],
                index + 1
            )),
            (_, "created_date" | "returned_date") => date(5 * 365),
            _ => Value::Null,
        }
    }
}
