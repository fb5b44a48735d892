//! Sign-in, token rotation with reuse detection, logout, and the API key lifecycle, driven
//! through real HTTP (and gRPC for keys).

use reqwest::StatusCode;
use serde_json::json;
use stateset::adapters::grpc::pb;
use stateset::services::auth::{CUSTOMER_ROLE, STAFF_ROLE};

use crate::support::{Http, PASSWORD, TestApp, catalog_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_and_identical_errors_for_wrong_email_or_password() {
    let t = TestApp::new().await;
    let http = Http::new(&t).await;
    let (status, registered) = http
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": " Ada@Example.com ", "password": PASSWORD, "name": "Ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!(registered["user"]["email"], "ada@example.com");
    assert_eq!(registered["user"]["role"], "customer");
    assert_eq!(registered["token_type"], "Bearer");
    assert_eq!(registered["expires_in"], 3600);
    let (status, _) = http
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = http
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "nope", "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["details"]["fields"].as_array().unwrap().len(),
        2
    );

    let (status, login) = http
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, me) = http
        .get("/api/v1/auth/me", login["access_token"].as_str())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "Ada");

    let (status_a, wrong_password) = http
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await;
    let (status_b, wrong_email) = http
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "eve@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status_a, status_b),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        wrong_password, wrong_email,
        "nothing tells an unknown email from a wrong password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_refresh_token_revokes_the_whole_session() {
    let t = TestApp::new().await;
    t.user_token("ada@example.com", CUSTOMER_ROLE).await;
    let http = Http::new(&t).await;
    let (_, first) = http
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    let first_refresh = first["refresh_token"].as_str().unwrap();

    let (status, second) = http
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "refresh rotates"
    );
    let second_access = second["access_token"].as_str().unwrap();
    assert_eq!(
        http.get("/api/v1/auth/me", Some(second_access)).await.0,
        StatusCode::OK
    );

    // The spent token comes back: someone copied it. The whole family dies.
    let (status, body) = http
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first_refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    let (status, _) = http
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the newest refresh token of the session is revoked too"
    );
    assert_eq!(
        http.get("/api/v1/auth/me", Some(second_access)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.get("/api/v1/auth/me", first["access_token"].as_str())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Other sessions of the same user are untouched.
    let (_, other) = http
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        http.get("/api/v1/auth/me", other["access_token"].as_str())
            .await
            .0,
        StatusCode::OK
    );
    // An access token is not a refresh token.
    let (status, _) = http
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": other["access_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_session_everywhere() {
    let t = TestApp::new().await;
    t.user_token("ada@example.com", CUSTOMER_ROLE).await;
    let http = Http::new(&t).await;
    let (_, session) = http
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    let access = session["access_token"].as_str().unwrap();
    let (status, _) = http
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(access),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        http.get("/api/v1/auth/me", Some(access)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = http
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The denylist lives in PostgreSQL: a second instance on the same database agrees.
    let other = stateset::app::App::new(crate::support::test_config(&t.db.url)).unwrap();
    let credentials = stateset::services::auth::Credentials::Bearer(access.to_owned());
    assert_eq!(
        other
            .services
            .auth
            .authenticate(&credentials)
            .await
            .unwrap_err()
            .code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_lifecycle() {
    let t = TestApp::new().await;
    t.seed_demo().await;
    let staff = t.user_token("staff@example.com", STAFF_ROLE).await;
    let http = Http::new(&t).await;

    // Beyond the creator's own permissions: refused, naming the scope.
    let (status, body) = http
        .post(
            "/api/v1/api-keys",
            Some(&staff),
            json!({"name": "too much", "scopes": ["products:write"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "scopes[0]");

    let (status, created) = http
        .post(
            "/api/v1/api-keys",
            Some(&staff),
            json!({"name": "warehouse sync", "scopes": ["products:read", "inventory:read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_live_") && key.len() > 40);
    assert!(key.starts_with(created["api_key"]["prefix"].as_str().unwrap()));
    let id = created["api_key"]["id"].as_str().unwrap().to_owned();

    // It works as a bearer token and as X-API-Key, counting each use.
    assert_eq!(
        http.get("/api/v1/products", Some(&key)).await.0,
        StatusCode::OK
    );
    let response = http
        .client
        .get(format!("{}/api/v1/products?limit=1", http.base))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut grpc = catalog_client(t.serve_grpc().await, Some(&key));
    assert_eq!(
        grpc.list_products(pb::ListProductsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .total_count,
        8
    );
    let (_, keys) = http.get("/api/v1/api-keys", Some(&staff)).await;
    let listed = &keys["items"][0];
    assert_eq!(listed["usage_count"], 3);
    assert!(listed["last_used_at"].is_string());
    assert!(
        listed.get("key").is_none() && !keys.to_string().contains(&key),
        "the key is shown only once"
    );

    // Scopes bound it: categories are not among them, let alone writing.
    let (status, _) = http
        .post("/api/v1/categories", Some(&key), json!({"name": "Nope"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoked: refused at once on every door.
    let (status, revoked) = http
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(
        http.get("/api/v1/products", Some(&key)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let err = grpc
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    // Expired keys stop working too.
    let (_, expiring) = http
        .post(
            "/api/v1/api-keys",
            Some(&staff),
            json!({"name": "short", "scopes": ["products:read"], "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    let short_key = expiring["key"].as_str().unwrap();
    assert_eq!(
        http.get("/api/v1/products", Some(short_key)).await.0,
        StatusCode::OK
    );
    expire_key(&t, expiring["api_key"]["id"].as_str().unwrap()).await;
    assert_eq!(
        http.get("/api/v1/products", Some(short_key)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Moves a key's expiry into the past (time is not something a test should wait for).
async fn expire_key(t: &TestApp, id: &str) {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = diesel_async::AsyncPgConnection::establish(&t.db.url)
        .await
        .unwrap();
    diesel::sql_query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(uuid::Uuid::parse_str(id).unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_session_flow() {
    use crate::support::Auth;
    let t = TestApp::new().await;
    let registered = t
        .graphql_as(
            &Auth::Anonymous,
            r#"mutation { register(input: {email: "gql@example.com", password: "long enough pw"}) { accessToken refreshToken user { role } } }"#,
            json!({}),
        )
        .await;
    let tokens = &registered["data"]["register"];
    assert_eq!(tokens["user"]["role"], "customer", "{registered}");
    let access = Auth::Bearer(tokens["accessToken"].as_str().unwrap().to_owned());
    let me = t.graphql_as(&access, "{ me { email } }", json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "gql@example.com");
    let refreshed = t
        .graphql_as(
            &Auth::Anonymous,
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({"t": tokens["refreshToken"]}),
        )
        .await;
    let access = Auth::Bearer(
        refreshed["data"]["refreshToken"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let logout = t
        .graphql_as(&access, "mutation { logout }", json!({}))
        .await;
    assert_eq!(logout["data"]["logout"], true);
    let (status, _) = t
        .json_as(
            &access,
            axum::http::Method::POST,
            "/graphql",
            Some(json!({"query": "{ me { id } }"})),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_command_creates_the_first_administrator() {
    let database = crate::support::fresh_database_name();
    let url = crate::support::url_for(&database);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .args([
            "admin",
            "create",
            "--email",
            "Root@Example.com",
            "--name",
            "Root",
        ])
        .env("DATABASE_URL", &url)
        .env("STATESET_ADMIN_PASSWORD", PASSWORD)
        .env("ARGON2_MEMORY_KIB", "256")
        .env("ARGON2_ITERATIONS", "1")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("administrator root@example.com created")
    );
    let app = stateset::app::App::new(crate::support::test_config(&url)).unwrap();
    let ctx = stateset::services::Ctx::system();
    let input = stateset::services::auth::LoginInput {
        email: "root@example.com".into(),
        password: PASSWORD.into(),
        cart_token: None,
    };
    let tokens = app.services.auth.login(&ctx, input).await.unwrap();
    assert_eq!(tokens.user.role, "admin");
    // Running it again for the same email fails clearly instead of resetting anything.
    let again = tokio::process::Command::new(env!("CARGO_BIN_EXE_stateset"))
        .args(["admin", "create", "--email", "root@example.com"])
        .env("DATABASE_URL", &url)
        .env("STATESET_ADMIN_PASSWORD", "another password")
        .output()
        .await
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    drop(app);
    crate::support::drop_database(&database).await;
}
