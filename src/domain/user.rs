//! User profiles: the only user-scoped fact is a profile update.

use super::events::{Actor, UserEvent};
use super::ids::{Role, UserId};
use super::{Invalid, Rejection, validate};

pub const MAX_NAME_CHARS: usize = 100;

/// Decides a profile update. Users change their own display name; a service sets anyone's
/// name and role.
pub fn decide_profile_update(
    actor: &Actor,
    user: &UserId,
    name: Option<&str>,
    role: Option<Role>,
) -> Result<UserEvent, Rejection> {
    let is_self = &actor.user_id == user;
    if actor.role != Role::Service && !is_self {
        return Err(Rejection::Forbidden("only a service may change another user's profile"));
    }
    if role.is_some() && actor.role != Role::Service {
        return Err(Rejection::Forbidden("only a service may set a role"));
    }
    let name = validate::short_text("name", name, MAX_NAME_CHARS)?;
    if name.is_none() && role.is_none() {
        return Err(Invalid::new("name", "must not be empty").into());
    }
    Ok(UserEvent::ProfileUpdated { name, role })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: &str, role: Role) -> Actor {
        Actor { user_id: UserId::parse(id).unwrap(), role }
    }

    #[test]
    fn users_rename_themselves_only() {
        let me = UserId::parse("abe").unwrap();
        let other = UserId::parse("rita").unwrap();
        let abe = actor("abe", Role::Applicant);
        assert_eq!(
            decide_profile_update(&abe, &me, Some(" Abe "), None),
            Ok(UserEvent::ProfileUpdated { name: Some("Abe".into()), role: None })
        );
        assert!(decide_profile_update(&abe, &other, Some("x"), None).is_err());
        assert!(decide_profile_update(&abe, &me, Some("Abe"), Some(Role::Recruiter)).is_err());
        assert!(decide_profile_update(&abe, &me, Some("  "), None).is_err());
    }

    #[test]
    fn a_service_sets_name_and_role_of_anyone() {
        let ats = actor("ats", Role::Service);
        let other = UserId::parse("rita").unwrap();
        assert_eq!(
            decide_profile_update(&ats, &other, Some("Rita"), Some(Role::Recruiter)),
            Ok(UserEvent::ProfileUpdated { name: Some("Rita".into()), role: Some(Role::Recruiter) })
        );
    }
}
