//! Where a token keeps what the hub reads: the user id, the role, the
//! topic grants and the trusted metadata. The hub's own tokens use `sub`,
//! `role`, `topics` and `meta`; an identity provider puts them elsewhere
//! (Keycloak: roles in `realm_access.roles`; Auth0: a namespaced claim such
//! as `https://example.com/roles`; many: a list of roles rather than one),
//! so each is found by a [`ClaimPath`] and roles are translated by a
//! [`RoleMap`].
//!
//! Why unknown roles become `user`: a provider's role names mean something
//! in the provider's applications, not here. Only a name the map (or, with
//! no map, the hub's own vocabulary) gives a role grants more than `user`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::AuthError;
use sse_protocol::Role;

/// Where a claim is in a token's payload.
///
/// Written as a JSON pointer (`/realm_access/roles`, RFC 6901, `~1` for a
/// `/` inside a key), as a dotted path (`realm_access.roles`), or, when it
/// contains `://`, as one top-level key taken whole (Auth0's namespaced
/// `https://example.com/roles`, whose dots are not separators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath {
    /// The keys from the top of the payload down.
    keys: Vec<String>,
    /// As written, for messages.
    text: String,
}

impl ClaimPath {
    /// Reads a path (see the type's docs). Empty paths and empty keys are
    /// refused.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let bad = || AuthError::Key(format!("claim path {text:?}: empty, or with an empty key"));
        let keys: Vec<String> = if let Some(pointer) = text.strip_prefix('/') {
            pointer
                .split('/')
                .map(|k| k.replace("~1", "/").replace("~0", "~"))
                .collect()
        } else if text.contains("://") {
            vec![text.to_string()]
        } else {
            text.split('.').map(str::to_string).collect()
        };
        if text.is_empty() || keys.iter().any(String::is_empty) {
            return Err(bad());
        }
        Ok(Self {
            keys,
            text: text.to_string(),
        })
    }

    /// A path of one top-level key.
    pub fn key(name: &str) -> Self {
        Self {
            keys: vec![name.to_string()],
            text: name.to_string(),
        }
    }

    /// The value at this path in `payload`, if there is one (`null` counts
    /// as none).
    pub fn find<'a>(&self, payload: &'a Value) -> Option<&'a Value> {
        let mut at = payload;
        for k in &self.keys {
            at = at.as_object()?.get(k)?;
        }
        (!at.is_null()).then_some(at)
    }

    /// Whether this is the one top-level key `name`.
    pub fn is_key(&self, name: &str) -> bool {
        self.keys.len() == 1 && self.keys[0] == name
    }
}

impl std::fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A provider's role names, translated to the hub's roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap(BTreeMap<String, Role>);

impl RoleMap {
    /// Reads `provider-role=hub-role` pairs (`hub-admin=admin`,
    /// `svc=publisher`); the hub role must be `admin`, `publisher` or
    /// `user`.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<Self, AuthError> {
        let mut map = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref().trim();
            if pair.is_empty() {
                continue;
            }
            let (from, to) = pair
                .split_once('=')
                .ok_or_else(|| AuthError::Key(format!("role map entry {pair:?}: not NAME=ROLE")))?;
            let role = Role::parse(to.trim()).ok_or_else(|| {
                AuthError::Key(format!(
                    "role map entry {pair:?}: the role must be admin, publisher or user"
                ))
            })?;
            map.insert(from.trim().to_string(), role);
        }
        Ok(Self(map))
    }

    /// Whether no names are mapped (the hub's own names are read as they are).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The role one name stands for: mapped, or with no map the hub's own
    /// name; anything else is `user`.
    fn role_of(&self, name: &str) -> Role {
        if self.0.is_empty() {
            Role::parse(name).unwrap_or(Role::User)
        } else {
            self.0.get(name).copied().unwrap_or(Role::User)
        }
    }
}

/// Where the hub finds each claim, and how roles translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The user id (default `sub`): a string.
    pub user: ClaimPath,
    /// The role (default `role`): one name, or a list of names of which
    /// the one granting the most counts.
    pub role: ClaimPath,
    /// The topic grants (default `topics`).
    pub topics: ClaimPath,
    /// The trusted metadata (default `meta`).
    pub meta: ClaimPath,
    /// Provider role names to the hub's.
    pub roles: RoleMap,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            user: ClaimPath::key("sub"),
            role: ClaimPath::key("role"),
            topics: ClaimPath::key("topics"),
            meta: ClaimPath::key("meta"),
            roles: RoleMap::default(),
        }
    }
}

impl ClaimMapping {
    /// The user id: a string at [`ClaimMapping::user`].
    pub(super) fn user<'a>(&self, payload: &'a Value) -> Result<&'a str, AuthError> {
        self.user
            .find(payload)
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::Invalid(format!("no user id (a string) at `{}`", self.user)))
    }

    /// The role: absent is `user`; a name or a list of names (the most
    /// powerful mapped one wins); any other shape is refused.
    pub(super) fn role(&self, payload: &Value) -> Result<Role, AuthError> {
        let rank = |r: Role| match r {
            Role::Admin => 2,
            Role::Publisher => 1,
            Role::User => 0,
        };
        let bad = || {
            AuthError::Invalid(format!(
                "`{}` must be a role name or a list of them",
                self.role
            ))
        };
        match self.role.find(payload) {
            None => Ok(Role::User),
            Some(Value::String(name)) => Ok(self.roles.role_of(name)),
            Some(Value::Array(names)) => {
                let mut best = Role::User;
                for n in names {
                    let r = self.roles.role_of(n.as_str().ok_or_else(bad)?);
                    if rank(r) > rank(best) {
                        best = r;
                    }
                }
                Ok(best)
            }
            Some(_) => Err(bad()),
        }
    }

    /// The claim at `path`, read as `T` (absent: `None`).
    pub(super) fn read<T: serde::de::DeserializeOwned>(
        path: &ClaimPath,
        payload: &Value,
    ) -> Result<Option<T>, AuthError> {
        path.find(payload)
            .map(|v| T::deserialize(v).map_err(|e| AuthError::Invalid(format!("`{path}`: {e}"))))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_read_pointers_dots_and_namespaced_keys() {
        let token = json!({
            "sub": "u1",
            "realm_access": {"roles": ["offline_access", "hub-admin"]},
            "https://example.com/roles": ["editor"],
            "a/b": {"c": 1},
        });
        let find = |p: &str| ClaimPath::parse(p).unwrap().find(&token).cloned();
        assert_eq!(find("sub"), Some(json!("u1")));
        assert_eq!(
            find("realm_access.roles"),
            Some(json!(["offline_access", "hub-admin"]))
        );
        assert_eq!(find("/realm_access/roles"), find("realm_access.roles"));
        assert_eq!(find("https://example.com/roles"), Some(json!(["editor"])));
        assert_eq!(find("/a~1b/c"), Some(json!(1)));
        assert_eq!(find("realm_access.missing"), None);
        assert_eq!(find("sub.deeper"), None);
        for bad in ["", ".", "a..b", "/", "/a//b"] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_mapped_the_most_powerful_wins_and_unknown_ones_are_user() {
        let keycloak = ClaimMapping {
            role: ClaimPath::parse("realm_access.roles").unwrap(),
            roles: RoleMap::parse(&["hub-admin=admin", "svc=publisher"]).unwrap(),
            ..ClaimMapping::default()
        };
        let with = |roles: Value| json!({"realm_access": {"roles": roles}});
        assert_eq!(
            keycloak
                .role(&with(json!(["offline_access", "hub-admin"])))
                .unwrap(),
            Role::Admin
        );
        assert_eq!(
            keycloak.role(&with(json!(["svc"]))).unwrap(),
            Role::Publisher
        );
        assert_eq!(
            keycloak.role(&with(json!(["admin"]))).unwrap(),
            Role::User,
            "unmapped, even the hub's own name"
        );
        assert_eq!(
            keycloak.role(&with(json!("hub-admin"))).unwrap(),
            Role::Admin
        );
        assert_eq!(keycloak.role(&json!({})).unwrap(), Role::User);
        assert!(keycloak.role(&with(json!([1]))).is_err());
        assert!(keycloak.role(&with(json!({"x": 1}))).is_err());

        let own = ClaimMapping::default();
        assert_eq!(own.role(&json!({"role": "admin"})).unwrap(), Role::Admin);
        assert_eq!(own.role(&json!({"role": "editor"})).unwrap(), Role::User);
        assert!(RoleMap::parse(&["x=root"]).is_err());
        assert!(RoleMap::parse(&["x"]).is_err());
    }
}
