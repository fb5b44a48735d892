//! `DATABASE_READ_URL` against a real streaming replica: what shoppers are shown may come from
//! the replica (and lag behind it), while staff reads, cache fills and every decision read the
//! primary. The standby's replay is paused to make the lag visible.

use serde_json::{Value, json};
use stateset::services::catalog::UpdateProductInput;

use crate::support::replica::streaming_pair;
use crate::support::{Auth, TestApp, TestDb, product_input, url_on};

const LIST: &str = "{ products(first: 50, sort: NAME_ASC) { edges { node { name } } } }";

fn names(answer: &Value) -> Vec<String> {
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["products"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_read_the_replica_while_staff_cache_fills_and_carts_read_the_primary() {
    let pair = streaming_pair().await;
    let db = TestDb::migrated_on(&pair.primary).await;
    let replica_url = url_on(&pair.standby, &db.name);
    let t = TestApp::on(db, |c| c.database_read_url = Some(replica_url)).await;
    assert!(t.app.db.has_read_replica());

    let first = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("Alpha Boot", &["REP-A"], "40"))
        .await
        .unwrap();
    pair.caught_up().await;
    assert_eq!(
        names(&t.graphql_as(&Auth::Anonymous, LIST, json!({})).await),
        ["Alpha Boot"]
    );

    // From here on the standby receives WAL but does not apply it.
    pair.pause_replay(true).await;
    let rename = UpdateProductInput {
        name: Some("Alpha Boot II".into()),
        ..Default::default()
    };
    t.services()
        .catalog
        .update_product(&t.ctx, first.product.id, rename)
        .await
        .unwrap();
    let later = t
        .services()
        .catalog
        .create_product(&t.ctx, product_input("Beta Sandal", &["REP-B"], "25"))
        .await
        .unwrap();

    // A shopper's list comes from the replica, which has not replayed either write yet.
    let shown = names(&t.graphql_as(&Auth::Anonymous, LIST, json!({})).await);
    // Staff read the primary: they always see their own changes.
    let staff = names(&t.graphql(LIST, json!({})).await);
    // A product fetched into the cache is read from the primary, so the cache never keeps a
    // lagging row.
    let by_slug = t
        .graphql_as(
            &Auth::Anonymous,
            "query($s: String!) { product(slug: $s) { name } }",
            json!({ "s": later.product.slug }),
        )
        .await;
    // Carts decide on prices and stock: they read the primary, so the new variant is there.
    let cart = t
        .graphql_as(
            &Auth::Anonymous,
            "mutation($v: UUID!) { createCart(input: {items: [{variantId: $v, quantity: 2}]}) { subtotal { amount } } }",
            json!({ "v": later.variants[0].id }),
        )
        .await;
    pair.pause_replay(false).await;

    assert_eq!(shown, ["Alpha Boot"], "the replica lags while paused");
    assert_eq!(staff, ["Alpha Boot II", "Beta Sandal"]);
    assert_eq!(
        by_slug["data"]["product"]["name"], "Beta Sandal",
        "{by_slug}"
    );
    assert!(cart["errors"].is_null(), "{cart}");
    assert_eq!(cart["data"]["createCart"]["subtotal"]["amount"], "50.00");

    pair.caught_up().await;
    assert_eq!(
        names(&t.graphql_as(&Auth::Anonymous, LIST, json!({})).await),
        ["Alpha Boot II", "Beta Sandal"],
        "once replayed, the replica shows both writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_read_the_primary_while_the_replica_cannot_be_reached() {
    // Nothing listens on port 1.
    let t = TestApp::with_config(|c| {
        c.database_read_url = Some("postgres://postgres@127.0.0.1:1/stateset".into())
    })
    .await;
    t.services()
        .catalog
        .create_product(&t.ctx, product_input("Gamma Clog", &["REP-C"], "30"))
        .await
        .unwrap();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        assert_eq!(
            names(&t.graphql_as(&Auth::Anonymous, LIST, json!({})).await),
            ["Gamma Clog"]
        );
        // The first read waits out the replica's connect timeout; the next skips it.
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
    }
}
