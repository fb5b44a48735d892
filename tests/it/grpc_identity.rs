//! The gRPC door for identity: every method of `IdentityService` called over a real channel —
//! sign-up, sessions and their end, API keys that work and stop working, custom roles and the
//! users who hold them — with bad input as `INVALID_ARGUMENT` naming the field and
//! `idempotency-key` retries answered once.

use stateset::adapters::grpc::pb;
use stateset::services::auth::{ADMIN_ROLE, STAFF_ROLE};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::grpc_calls::{bad_fields, keyed, replayed};
use crate::support::{BearerInterceptor, PASSWORD, TestApp};

type Identity = pb::identity_service_client::IdentityServiceClient<
    InterceptedService<Channel, BearerInterceptor>,
>;

fn identity(channel: &Channel, token: Option<&str>) -> Identity {
    pb::identity_service_client::IdentityServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(token.map(str::to_owned)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_up_refreshes_and_signs_out_over_grpc() {
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let mut anonymous = identity(&channel, None);

    let refused = anonymous
        .register(pb::RegisterRequest {
            email: "not-an-email".into(),
            password: "short".into(),
            name: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&refused), ["email", "password"]);

    let signed_up = anonymous
        .register(pb::RegisterRequest {
            email: "Grace@Example.com".into(),
            password: PASSWORD.into(),
            name: Some("Grace Hopper".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(signed_up.token_type, "Bearer");
    assert!(signed_up.expires_in > 0);
    let user = signed_up.user.clone().unwrap();
    assert_eq!(user.email, "grace@example.com");
    assert_eq!(user.role, "customer");
    assert_eq!(user.name.as_deref(), Some("Grace Hopper"));
    assert!(user.active);

    let taken = anonymous
        .register(pb::RegisterRequest {
            email: "grace@example.com".into(),
            password: PASSWORD.into(),
            name: None,
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");

    // The access token is the caller's identity on every service.
    let me = identity(&channel, Some(&signed_up.access_token))
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.id, user.id);
    let nobody = anonymous
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::Unauthenticated);

    // A refresh token works once; presenting it again ends the session.
    let rotated = anonymous
        .refresh(pb::RefreshRequest {
            refresh_token: signed_up.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.refresh_token, signed_up.refresh_token);
    assert_eq!(rotated.user.unwrap().id, user.id);
    let reused = anonymous
        .refresh(pb::RefreshRequest {
            refresh_token: signed_up.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated);
    let ended = identity(&channel, Some(&rotated.access_token))
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(ended.code(), Code::Unauthenticated, "the reuse ended it");

    // Signing in: a wrong password and an unknown email get the same answer.
    for (email, password) in [
        ("grace@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let refused = anonymous
            .login(pb::LoginRequest {
                email: email.into(),
                password: password.into(),
                cart_token: None,
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{email}");
    }
    let session = anonymous
        .login(pb::LoginRequest {
            email: "GRACE@example.com".into(),
            password: PASSWORD.into(),
            cart_token: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut grace = identity(&channel, Some(&session.access_token));
    let me = grace
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(me.last_login_at.is_some(), "signing in is recorded");

    // Signing out ends the session its access token belongs to.
    grace
        .logout(pb::LogoutRequest {
            refresh_token: None,
        })
        .await
        .unwrap();
    let after = grace
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::Unauthenticated);
    let spent = anonymous
        .refresh(pb::RefreshRequest {
            refresh_token: session.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(spent.code(), Code::Unauthenticated, "its refresh token too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_made_over_grpc_act_within_their_scopes_until_revoked() {
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let staff = t.user_token("staff@example.com", STAFF_ROLE).await;
    let mut as_staff = identity(&channel, Some(&staff));

    let beyond = as_staff
        .create_api_key(pb::CreateApiKeyRequest {
            name: "too much".into(),
            scopes: vec!["products:read".into(), "users:manage".into()],
            expires_at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&beyond), ["scopes[1]"]);
    let past = as_staff
        .create_api_key(pb::CreateApiKeyRequest {
            name: "expired".into(),
            scopes: vec!["products:read".into()],
            expires_at: Some(prost_types::Timestamp {
                seconds: 1_000_000,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&past), ["expires_at"]);
    let unreadable = as_staff
        .create_api_key(pb::CreateApiKeyRequest {
            name: "bad time".into(),
            scopes: vec!["products:read".into()],
            expires_at: Some(prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&unreadable), ["expires_at"]);

    let created = as_staff
        .create_api_key(pb::CreateApiKeyRequest {
            name: "stock sync".into(),
            scopes: vec!["inventory:read".into()],
            expires_at: None,
        })
        .await
        .unwrap()
        .into_inner();
    let listed = created.api_key.unwrap();
    assert!(created.key.starts_with(&listed.prefix));
    assert_eq!(listed.scopes, ["inventory:read"]);
    assert_eq!(listed.name, "stock sync");

    let keys = as_staff
        .list_api_keys(pb::ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, listed.id);
    assert!(keys[0].revoked_at.is_none());

    // The key acts as its owner, narrowed to its scopes.
    let mut inventory = pb::inventory_service_client::InventoryServiceClient::with_interceptor(
        channel.clone(),
        BearerInterceptor(Some(created.key.clone())),
    );
    inventory
        .list_inventory(pb::ListInventoryRequest::default())
        .await
        .expect("inventory:read is within the key's scopes");
    let me = identity(&channel, Some(&created.key))
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.email, "staff@example.com");
    let outside = identity(&channel, Some(&created.key))
        .list_api_keys(pb::ListApiKeysRequest::default())
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied, "{outside:?}");

    // Another user neither sees nor revokes the key.
    let customer = t
        .user_token(
            "customer@example.com",
            stateset::services::auth::CUSTOMER_ROLE,
        )
        .await;
    let mut as_customer = identity(&channel, Some(&customer));
    let theirs = as_customer
        .list_api_keys(pb::ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert!(theirs.is_empty());
    let not_theirs = as_customer
        .revoke_api_key(pb::RevokeApiKeyRequest {
            id: listed.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_theirs.code(), Code::NotFound);
    let bad_id = as_staff
        .revoke_api_key(pb::RevokeApiKeyRequest { id: "key-1".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad_id), ["id"]);

    // Revoked once, however often the call is retried, and the key stops working.
    let revoke = || {
        keyed(
            pb::RevokeApiKeyRequest {
                id: listed.id.clone(),
            },
            "revoke-stock-sync",
        )
    };
    let first = as_staff.revoke_api_key(revoke()).await.unwrap();
    assert!(!replayed(&first));
    let revoked = first.into_inner();
    assert!(revoked.revoked_at.is_some());
    let again = as_staff.revoke_api_key(revoke()).await.unwrap();
    assert!(replayed(&again));
    assert_eq!(again.into_inner(), revoked);
    let stopped = inventory
        .list_inventory(pb::ListInventoryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(stopped.code(), Code::Unauthenticated);
    assert_eq!(t.events_of(&["api_key.revoked"]).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_manage_roles_and_users_over_grpc() {
    let t = TestApp::new().await;
    let channel = t.serve_grpc().await;
    let mut admin = identity(&channel, Some(&t.admin));

    let bad = admin
        .create_role(pb::CreateRoleRequest {
            name: "Catalog Editor".into(),
            description: None,
            parent_id: Some("staff".into()),
            permissions: vec!["no-such-permission".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["parent_id"], "ids are read first");

    let create = || {
        keyed(
            pb::CreateRoleRequest {
                name: "catalog_editor".into(),
                description: Some("Edits the catalog".into()),
                parent_id: Some(STAFF_ROLE.to_string()),
                permissions: vec!["products:write".into()],
            },
            "create-catalog-editor",
        )
    };
    let created = admin.create_role(create()).await.unwrap();
    assert!(!replayed(&created));
    let editor = created.into_inner();
    assert!(!editor.built_in);
    assert_eq!(
        editor.parent_id.as_deref(),
        Some(STAFF_ROLE.to_string().as_str())
    );
    assert!(
        editor
            .effective_permissions
            .contains(&"products:write".into())
    );
    assert!(
        editor.effective_permissions.contains(&"orders:read".into()),
        "inherited from staff: {:?}",
        editor.effective_permissions
    );
    let retried = admin.create_role(create()).await.unwrap();
    assert!(replayed(&retried));
    assert_eq!(retried.into_inner().id, editor.id);
    let roles = admin
        .list_roles(pb::ListRolesRequest {})
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert_eq!(
        roles.iter().filter(|r| r.name == "catalog_editor").count(),
        1,
        "created once"
    );
    assert!(roles.iter().any(|r| r.name == "admin" && r.built_in));

    // Built-in roles stay as they are.
    let built_in = admin
        .update_role(pb::UpdateRoleRequest {
            id: ADMIN_ROLE.to_string(),
            name: Some("root".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(built_in.code(), Code::FailedPrecondition);

    // Absent fields stay; an empty permission list replaces the permissions with none.
    let renamed = admin
        .update_role(pb::UpdateRoleRequest {
            id: editor.id.clone(),
            description: Some("Edits products".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.permissions, ["products:write"]);
    assert_eq!(renamed.description.as_deref(), Some("Edits products"));
    let emptied = admin
        .update_role(pb::UpdateRoleRequest {
            id: editor.id.clone(),
            permissions: Some(pb::PermissionList {
                permissions: vec![],
            }),
            clear_parent: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(emptied.permissions.is_empty());
    assert!(emptied.parent_id.is_none());
    assert!(emptied.effective_permissions.is_empty());
    admin
        .update_role(pb::UpdateRoleRequest {
            id: editor.id.clone(),
            permissions: Some(pb::PermissionList {
                permissions: vec!["products:write".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();

    // Users: created with the role, paged, moved and stopped.
    let no_role = admin
        .create_user(pb::CreateUserRequest {
            email: "ed@example.com".into(),
            password: PASSWORD.into(),
            name: None,
            role_id: "editor".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&no_role), ["role_id"]);
    let ed = admin
        .create_user(pb::CreateUserRequest {
            email: "ed@example.com".into(),
            password: PASSWORD.into(),
            name: Some("Ed".into()),
            role_id: editor.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ed.role, "catalog_editor");
    let twice = admin
        .create_user(pb::CreateUserRequest {
            email: "ed@example.com".into(),
            password: PASSWORD.into(),
            name: None,
            role_id: editor.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_users(pb::ListUsersRequest {
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_count, 2);
        seen.extend(page.users.into_iter().map(|u| u.email));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["admin@example.com", "ed@example.com"]);
    let too_big = admin
        .list_users(pb::ListUsersRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&too_big), ["page_size"]);

    // Deleting a role someone holds is refused; after moving them it goes.
    let held = admin
        .delete_role(pb::DeleteRoleRequest {
            id: editor.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(held.code(), Code::AlreadyExists, "{held:?}");
    let moved = admin
        .set_user_role(keyed(
            pb::SetUserRoleRequest {
                id: ed.id.clone(),
                role_id: STAFF_ROLE.to_string(),
            },
            "move-ed",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.role, "staff");
    admin
        .delete_role(pb::DeleteRoleRequest {
            id: editor.id.clone(),
        })
        .await
        .unwrap();
    let roles = admin
        .list_roles(pb::ListRolesRequest {})
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert!(roles.iter().all(|r| r.id != editor.id));

    // A stopped user cannot sign in; nor can an administrator stop itself.
    let ed_session = t.login("ed@example.com").await;
    let stopped = admin
        .set_user_active(pb::SetUserActiveRequest {
            id: ed.id.clone(),
            active: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!stopped.active);
    let refused = identity(&channel, None)
        .login(pb::LoginRequest {
            email: "ed@example.com".into(),
            password: PASSWORD.into(),
            cart_token: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let token_stopped = identity(&channel, Some(&ed_session.access_token))
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(token_stopped.code(), Code::Unauthenticated);
    let me = admin
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    let myself = admin
        .set_user_active(pb::SetUserActiveRequest {
            id: me.id,
            active: false,
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&myself), ["active"]);
    assert_eq!(t.events_of(&["user.updated"]).await.len(), 2);
    assert_eq!(t.events_of(&["role.deleted"]).await.len(), 1);
}
