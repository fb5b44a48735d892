//! Permissions are `resource:action` strings (`orders:read`), with `*` for any resource or
//! action, and an optional `:own` suffix that limits a grant to the caller's own data.

use std::fmt;

use uuid::Uuid;

/// What a caller may see or change for one permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything.
    All,
    /// Only what belongs to this user.
    Own(Uuid),
}

/// One granted permission.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Grant {
    resource: String,
    action: String,
    own_only: bool,
}

impl Grant {
    fn parse(raw: &str) -> Result<Self, String> {
        let mut parts = raw.trim().split(':');
        let word = |w: &str| {
            w == "*" || (!w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        };
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("*"), None, None, None) => Ok(Self {
                resource: "*".into(),
                action: "*".into(),
                own_only: false,
            }),
            (Some(resource), Some(action), own, None)
                if word(resource) && word(action) && matches!(own, None | Some("own")) =>
            {
                Ok(Self {
                    resource: resource.into(),
                    action: action.into(),
                    own_only: own.is_some(),
                })
            }
            _ => Err(format!(
                "`{raw}` is not a permission such as `orders:read`, `orders:*` or `orders:read:own`"
            )),
        }
    }

    /// Whether this grant covers `resource:action` (either may itself be `*`).
    fn covers(&self, resource: &str, action: &str) -> bool {
        (self.resource == "*" || self.resource == resource)
            && (self.action == "*" || self.action == action)
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.resource.as_str(), self.action.as_str(), self.own_only) {
            ("*", "*", false) => f.write_str("*"),
            (resource, action, false) => write!(f, "{resource}:{action}"),
            (resource, action, true) => write!(f, "{resource}:{action}:own"),
        }
    }
}

/// The permissions a principal holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet {
    grants: Vec<Grant>,
}

/// Checks that `raw` is a well-formed permission.
pub fn check_permission(raw: &str) -> Result<(), String> {
    Grant::parse(raw).map(drop)
}

impl PermissionSet {
    /// Parses granted permissions; malformed ones are skipped (they grant nothing).
    pub fn new<S: AsRef<str>>(granted: impl IntoIterator<Item = S>) -> Self {
        let mut grants: Vec<Grant> = granted
            .into_iter()
            .filter_map(|g| Grant::parse(g.as_ref()).ok())
            .collect();
        grants.sort();
        grants.dedup();
        Self { grants }
    }

    /// How far `required` (`resource:action`) is granted: everywhere, only for own data, or not.
    pub fn access(&self, required: &str, user_id: Option<Uuid>) -> Option<Access> {
        let (resource, action) = required.split_once(':').unwrap_or((required, "*"));
        let matching = self.grants.iter().filter(|g| g.covers(resource, action));
        let mut own = false;
        for grant in matching {
            if !grant.own_only {
                return Some(Access::All);
            }
            own = true;
        }
        match (own, user_id) {
            (true, Some(user_id)) => Some(Access::Own(user_id)),
            _ => None,
        }
    }

    /// Whether this set holds `permission` at least as broadly (for delegating scopes to keys).
    pub fn includes(&self, permission: &str) -> bool {
        let Ok(wanted) = Grant::parse(permission) else {
            return false;
        };
        self.grants
            .iter()
            .any(|g| g.covers(&wanted.resource, &wanted.action) && (!g.own_only || wanted.own_only))
    }

    /// The permissions as strings, sorted.
    pub fn to_strings(&self) -> Vec<String> {
        self.grants.iter().map(ToString::to_string).collect()
    }

    /// The permissions of both sets.
    pub fn union(&self, other: &PermissionSet) -> PermissionSet {
        PermissionSet::new(self.to_strings().into_iter().chain(other.to_strings()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_own_grants() {
        let me = Uuid::now_v7();
        let set = PermissionSet::new([
            "products:*",
            "*:read",
            "orders:read:own",
            "orders:create:own",
        ]);
        assert_eq!(set.access("products:write", Some(me)), Some(Access::All));
        assert_eq!(set.access("inventory:read", Some(me)), Some(Access::All));
        assert_eq!(set.access("orders:create", Some(me)), Some(Access::Own(me)));
        assert_eq!(set.access("orders:cancel", Some(me)), None);
        assert_eq!(
            set.access("orders:create", None),
            None,
            "own grants need a user"
        );
        assert_eq!(
            PermissionSet::new(["*"]).access("roles:manage", None),
            Some(Access::All)
        );
    }

    #[test]
    fn includes_only_narrower_or_equal_permissions() {
        let set = PermissionSet::new(["products:*", "orders:read:own"]);
        assert!(set.includes("products:read"));
        assert!(set.includes("products:*"));
        assert!(!set.includes("*"));
        assert!(!set.includes("orders:read"));
        assert!(set.includes("orders:read:own"));
        assert!(!set.includes("not a permission"));
    }

    #[test]
    fn malformed_permissions_are_rejected() {
        assert!(check_permission("orders:read").is_ok());
        assert!(check_permission("orders:read:own").is_ok());
        assert!(check_permission("*").is_ok());
        assert!(check_permission("Orders:read").is_err());
        assert!(check_permission("orders").is_err());
        assert!(check_permission("orders:read:all").is_err());
    }
}
