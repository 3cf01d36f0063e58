//! Activities: what a customer did, the raw material of insights.
use super::{CustomerId, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActivityKind {
    Purchase,
    View,
    Search,
    Review,
    Inquiry,
    Complaint,
    Booking,
    /// Money paid back for an order, with the items returned: never a purchase.
    Refund,
}

impl ActivityKind {
    pub const ALL: [Self; 8] = [
        Self::Purchase,
        Self::View,
        Self::Search,
        Self::Review,
        Self::Inquiry,
        Self::Complaint,
        Self::Booking,
        Self::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "purchase",
            Self::View => "view",
            Self::Search => "search",
            Self::Review => "review",
            Self::Inquiry => "inquiry",
            Self::Complaint => "complaint",
            Self::Booking => "booking",
            Self::Refund => "refund",
        }
    }
    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseItem {
    pub item_id: String,
    pub quantity: i32,
    pub unit_price: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: uuid::Uuid,
    pub customer: CustomerId,
    pub kind: ActivityKind,
    pub occur_time: DateTime<Utc>,
    pub channel: String,
    pub amount: Option<Money>,
    pub items: Vec<PurchaseItem>,
    pub reference: String,
    pub text: String,
    pub item_id: String,
    pub rating: i32,
    pub create_time: DateTime<Utc>,
}

impl Activity {
    pub fn name(&self) -> String {
        format!("{}/activities/{}", self.customer.name(), self.id)
    }

    /// Rules per kind; `field` paths are relative to the activity. Each field's own range
    /// (time, amounts, quantities, text) was checked when the request was parsed.
    pub fn validate(&self, v: &mut crm_platform::Violations) {
        match self.kind {
            ActivityKind::Purchase | ActivityKind::Refund if self.amount.is_none() => v.add(
                "amount",
                format!("is required for a {}", self.kind.as_str()),
            ),
            ActivityKind::View if self.item_id.is_empty() => {
                v.add("item_id", "is required for a view")
            }
            ActivityKind::Search if self.text.trim().is_empty() => {
                v.add("text", "is required for a search (the query)")
            }
            ActivityKind::Review if !(1..=5).contains(&self.rating) => {
                v.add("rating", "must be 1-5 for a review")
            }
            _ => {}
        }
        // The order refunded: what loyalty reverses, and what ties the refund to a purchase.
        if self.kind == ActivityKind::Refund && self.reference.is_empty() {
            v.add("reference", "is required for a refund (the order refunded)");
        }
        if self.kind != ActivityKind::Review && self.rating != 0 {
            v.add("rating", "only reviews have a rating");
        }
        if let Some(total) = &self.amount {
            for (i, item) in self.items.iter().enumerate() {
                if let Some(price) = &item.unit_price
                    && price.currency != total.currency
                {
                    v.add(
                        format!("items[{i}].unit_price.currency_code"),
                        "must be the currency of amount",
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(kind: ActivityKind) -> Activity {
        Activity {
            id: uuid::Uuid::nil(),
            customer: CustomerId(uuid::Uuid::nil()),
            kind,
            occur_time: Utc::now(),
            channel: String::new(),
            amount: None,
            items: Vec::new(),
            reference: String::new(),
            text: String::new(),
            item_id: String::new(),
            rating: 0,
            create_time: Utc::now(),
        }
    }

    fn fields(a: &Activity) -> Vec<String> {
        let mut v = crm_platform::Violations::new();
        a.validate(&mut v);
        v.iter().map(|x| x.field.clone()).collect()
    }

    #[test]
    fn each_kind_needs_its_fields() {
        assert_eq!(fields(&activity(ActivityKind::Purchase)), ["amount"]);
        assert_eq!(fields(&activity(ActivityKind::View)), ["item_id"]);
        assert_eq!(fields(&activity(ActivityKind::Search)), ["text"]);
        assert_eq!(fields(&activity(ActivityKind::Review)), ["rating"]);
        let rated_view = Activity {
            rating: 4,
            item_id: "room-1".into(),
            ..activity(ActivityKind::View)
        };
        assert_eq!(fields(&rated_view), ["rating"]);
        assert!(fields(&activity(ActivityKind::Inquiry)).is_empty());
        assert_eq!(
            fields(&activity(ActivityKind::Refund)),
            ["amount", "reference"]
        );
    }

    #[test]
    fn a_refund_names_its_order_and_amount() {
        let refund = Activity {
            amount: Some(Money {
                currency: "CNY".into(),
                amount_minor: 4_500,
            }),
            reference: "order-17".into(),
            items: vec![PurchaseItem {
                item_id: "sku-1".into(),
                quantity: 1,
                unit_price: None,
            }],
            ..activity(ActivityKind::Refund)
        };
        assert!(fields(&refund).is_empty());
        let mut v = crm_platform::Violations::new();
        Activity {
            amount: None,
            ..refund.clone()
        }
        .validate(&mut v);
        assert_eq!(
            v.iter().map(|x| x.description.as_str()).collect::<Vec<_>>(),
            ["is required for a refund"]
        );
        assert_eq!(
            fields(&Activity {
                reference: String::new(),
                ..refund
            }),
            ["reference"]
        );
    }

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in ActivityKind::ALL {
            assert_eq!(ActivityKind::from_db(kind.as_str()), Some(kind));
        }
        assert_eq!(ActivityKind::from_db("return"), None);
    }

    #[test]
    fn item_prices_share_the_currency_of_the_total() {
        let money = |c: &str| Money {
            currency: c.into(),
            amount_minor: 100,
        };
        let item = |c: &str| PurchaseItem {
            item_id: "sku".into(),
            quantity: 1,
            unit_price: Some(money(c)),
        };
        let a = Activity {
            amount: Some(money("CNY")),
            items: vec![item("CNY"), item("EUR")],
            ..activity(ActivityKind::Purchase)
        };
        assert_eq!(fields(&a), ["items[1].unit_price.currency_code"]);
    }
}
