//! Release groups: several functions' rollouts that move in lock-step, as one release.
//!
//! Every member is an ordinary rollout on its own alias, with its own record and its own live
//! state in the alias's description. What makes them a group is the [`GroupRef`] in each
//! member's record: the group's name and every member's function, alias and rollout id. From
//! any one member, a controller finds all the others, so a controller killed between two
//! members' writes leaves enough behind for the next one to finish the transition.
//!
//! ```
//! use lamina_canary::group::{GroupMember, GroupRef};
//!
//! let group = GroupRef {
//!     name: "udagram".to_owned(),
//!     members: vec![
//!         GroupMember { function: "api".into(), alias: "live".into(), id: "0123456789ab".into() },
//!         GroupMember { function: "worker".into(), alias: "live".into(), id: "ba9876543210".into() },
//!     ],
//! };
//! assert!(group.validate().is_ok());
//! assert_eq!(group.member("worker", "live").unwrap().id, "ba9876543210");
//! ```

use serde::{Deserialize, Serialize};

use crate::state::is_rollout_id;

/// The longest group name accepted.
pub const MAX_GROUP_NAME: usize = 64;

/// One member of a group: a function's alias and the id of its rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupMember {
    /// The function's name.
    pub function: String,
    /// The alias whose traffic moves.
    pub alias: String,
    /// The member's rollout id (the key of its record).
    pub id: String,
}

/// A release group as every member's record states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRef {
    /// The group's name, as given to `canary deploy --group`.
    pub name: String,
    /// Every member, in the order the controller writes them (sorted by function, then alias).
    pub members: Vec<GroupMember>,
}

/// Whether `name` can name a group: 1 to [`MAX_GROUP_NAME`] ASCII letters, digits, `-` or `_`.
pub fn is_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

impl GroupRef {
    /// The member on `function`'s `alias`, if there is one.
    pub fn member(&self, function: &str, alias: &str) -> Option<&GroupMember> {
        self.members
            .iter()
            .find(|member| member.function == function && member.alias == alias)
    }

    /// Checks what a record read back must hold: a valid name, at least one member, members
    /// in write order without duplicates, and valid rollout ids. `Err` says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !is_group_name(&self.name) {
            return Err(format!(
                "{:?} is not a group name (1 to {MAX_GROUP_NAME} letters, digits, '-' or '_')",
                self.name
            ));
        }
        if self.members.is_empty() {
            return Err(format!("group {} has no members", self.name));
        }
        for pair in self.members.windows(2) {
            let key = |member: &GroupMember| (member.function.clone(), member.alias.clone());
            if key(&pair[0]) >= key(&pair[1]) {
                return Err(format!(
                    "group {} lists {}:{} twice or out of order",
                    self.name, pair[1].function, pair[1].alias
                ));
            }
        }
        if let Some(member) = self
            .members
            .iter()
            .find(|member| !is_rollout_id(&member.id))
        {
            return Err(format!(
                "group {} member {}:{} has the invalid rollout id {:?}",
                self.name, member.function, member.alias, member.id
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(function: &str, id: &str) -> GroupMember {
        GroupMember {
            function: function.to_owned(),
            alias: "live".to_owned(),
            id: id.to_owned(),
        }
    }

    #[test]
    fn names() {
        for good in ["udagram", "a", "release_7-b", &"x".repeat(MAX_GROUP_NAME)] {
            assert!(is_group_name(good), "{good}");
        }
        for bad in ["", "has space", "slash/name", "dot.name", &"x".repeat(65)] {
            assert!(!is_group_name(bad), "{bad}");
        }
    }

    #[test]
    fn validation_refuses_what_a_deploy_never_writes() {
        let ok = GroupRef {
            name: "g".to_owned(),
            members: vec![member("a", "0123456789ab"), member("b", "0123456789ac")],
        };
        assert_eq!(ok.validate(), Ok(()));
        let cases = [
            GroupRef {
                name: "bad name".to_owned(),
                ..ok.clone()
            },
            GroupRef {
                members: vec![],
                ..ok.clone()
            },
            GroupRef {
                members: vec![member("b", "0123456789ab"), member("a", "0123456789ac")],
                ..ok.clone()
            },
            GroupRef {
                members: vec![member("a", "0123456789ab"), member("a", "0123456789ac")],
                ..ok.clone()
            },
            GroupRef {
                members: vec![member("a", "XYZ"), member("b", "0123456789ac")],
                ..ok.clone()
            },
        ];
        for case in cases {
            assert!(case.validate().is_err(), "{case:?}");
        }
    }
}
