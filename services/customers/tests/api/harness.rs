//! `spawn_app()` and request builders shared by the tests.
use crm_customers::Settings;
use crm_platform::client::TracedChannel;
use crm_platform::testing::{Backend, auth};
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;

pub use crm_platform::testing::{
    Storage, assert_status, each_backend, rid, violations, wait_serving,
};

pub struct TestApp {
    pub client: CustomerServiceClient<TracedChannel>,
    pub port: u16,
    pub service: crm_customers::service::CustomersService,
    pub storage: Storage,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_on(Storage::fresh(backend).await).await
}

/// Starts an app on `storage`; a second app on the same storage is a replica.
pub async fn spawn_app_on(storage: Storage) -> TestApp {
    spawn_app_with(storage, |_| {}).await
}

/// Like [`spawn_app_on`], with settings changed by `tweak` first.
pub async fn spawn_app_with(storage: Storage, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let app = crm_platform::testing::spawn::<crm_customers::Customers>(&storage, tweak).await;
    TestApp {
        client: CustomerServiceClient::new(app.channel),
        port: app.port,
        service: app.service,
        storage,
    }
}

/// The `authorization` metadata of a caller with every scope of customers (raw calls).
pub fn authorization() -> String {
    format!(
        "Bearer {}",
        auth::token_for(crm_customers::grpc::policy::POLICY)
    )
}

/// A client of the server on `port` calling with a token of `subject` with `scopes`.
pub async fn client_as(
    port: u16,
    subject: &str,
    scopes: &[&str],
) -> CustomerServiceClient<TracedChannel> {
    CustomerServiceClient::new(auth::channel_as(port, subject, scopes).await)
}

pub fn person(name: &str, email: &str) -> pb::Customer {
    pb::Customer {
        display_name: name.into(),
        primary_email: email.into(),
        ..Default::default()
    }
}

impl TestApp {
    pub async fn create(&mut self, c: pb::Customer) -> pb::Customer {
        self.client
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(c),
                request_id: rid(),
            })
            .await
            .expect("create")
            .into_inner()
    }

    /// Imports `rows` in one stream keyed by `import_id`; the streamed results concatenated,
    /// with the totals of the last message.
    pub async fn import(
        &mut self,
        import_id: &str,
        rows: Vec<pb::Customer>,
    ) -> pb::ImportCustomersResponse {
        let stream = tokio_stream::iter(import_rows(import_id, rows));
        let mut replies = self
            .client
            .import_customers(stream)
            .await
            .expect("import")
            .into_inner();
        let mut all = pb::ImportCustomersResponse::default();
        while let Some(m) = replies.message().await.expect("import results") {
            all.results.extend(m.results);
            all.created_count = m.created_count;
            all.updated_count = m.updated_count;
            all.failed_count = m.failed_count;
        }
        all
    }

    /// The whole export, its streamed messages concatenated.
    pub async fn export(&mut self, name: &str) -> pb::ExportCustomerResponse {
        let mut stream = self
            .client
            .export_customer(pb::ExportCustomerRequest { name: name.into() })
            .await
            .expect("export")
            .into_inner();
        let mut all = pb::ExportCustomerResponse::default();
        while let Some(m) = stream.message().await.expect("export message") {
            all.customer = all.customer.or(m.customer);
            all.export_time = all.export_time.or(m.export_time);
            all.erasure_status = all.erasure_status.or(m.erasure_status);
            all.activities.extend(m.activities);
            all.audit_entries.extend(m.audit_entries);
            all.merged_customers.extend(m.merged_customers);
        }
        all
    }

    pub async fn get(&mut self, name: &str) -> Result<pb::Customer, tonic::Status> {
        self.client
            .get_customer(pb::GetCustomerRequest { name: name.into() })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn update(
        &mut self,
        c: pb::Customer,
        paths: &[&str],
    ) -> Result<pb::Customer, tonic::Status> {
        let mask = prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        };
        self.client
            .update_customer(pb::UpdateCustomerRequest {
                customer: Some(c),
                update_mask: Some(mask),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn insights(&mut self, name: &str) -> pb::CustomerInsights {
        self.client
            .get_customer_insights(pb::GetCustomerInsightsRequest { name: name.into() })
            .await
            .expect("insights")
            .into_inner()
    }

    /// Stores a purchase (or a refund, of order `order-{n}`) through the service (below
    /// request parsing, so amounts the API now refuses can be stored as rows written before
    /// the bound were); `n` tells calls apart.
    pub async fn store_activity(
        &self,
        customer: crm_customers::domain::CustomerId,
        kind: crm_customers::domain::ActivityKind,
        p: &crm_customers::domain::insights::Purchase,
        n: usize,
    ) {
        let a = crm_customers::domain::Activity {
            id: uuid::Uuid::nil(),
            customer,
            kind,
            occur_time: p.time,
            channel: String::new(),
            amount: p.amount.clone(),
            items: Vec::new(),
            reference: format!("order-{n}"),
            text: String::new(),
            item_id: String::new(),
            rating: 0,
            create_time: chrono::Utc::now(),
        };
        let key = crm_platform::idempotency::IdempotencyKey::new(
            crm_platform::ids::RequestId::parse(&rid()).expect("uuid"),
            "RecordActivity",
            n.to_string().as_bytes(),
        );
        self.service
            .record_activity(&key, customer, a)
            .await
            .expect("stored");
    }

    pub async fn purchase(
        &mut self,
        customer: &str,
        days_ago: i64,
        amount_minor: i64,
    ) -> pb::Activity {
        let t = chrono::Utc::now() - chrono::Duration::days(days_ago);
        let activity = pb::Activity {
            kind: pb::ActivityKind::Purchase as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: 0,
            }),
            amount: Some(crm_proto::common::Money {
                currency_code: "CNY".into(),
                amount_minor,
            }),
            items: vec![pb::PurchaseItem {
                item_id: "sku-1".into(),
                quantity: 1,
                unit_price: None,
            }],
            reference: format!("order-{}", rid()),
            ..Default::default()
        };
        self.client
            .record_activity(pb::RecordActivityRequest {
                parent: customer.into(),
                activity: Some(activity),
                request_id: rid(),
            })
            .await
            .expect("record purchase")
            .into_inner()
    }
}

/// Import messages for `rows`; the first carries `import_id`.
pub fn import_rows(import_id: &str, rows: Vec<pb::Customer>) -> Vec<pb::ImportCustomersRequest> {
    rows.into_iter()
        .enumerate()
        .map(|(i, c)| pb::ImportCustomersRequest {
            customer: Some(c),
            import_id: if i == 0 {
                import_id.into()
            } else {
                String::new()
            },
            request_id: String::new(),
        })
        .collect()
}
