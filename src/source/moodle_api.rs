//! What the web-service channel asks of a Moodle, as typed calls: the reads that
//! say what a platform holds, and the writes that change it, each a batch of rows.
//! `source::moodle::Moodle` answers them over REST; the channel's tests answer them
//! with a Moodle in memory. Nothing behind this trait leaks Moodle's JSON or form
//! fields to its callers.

use std::collections::BTreeMap;

use crate::model::MoodleNow;
use crate::source::SourceError;

/// One enrolment to write through the manual method (new, reactivated, suspended
/// or with new dates): `enrol_manual_enrol_users`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolRow {
    pub roleid: u64,
    pub userid: u64,
    pub courseid: u64,
    /// Unix seconds; 0 for none.
    pub timestart: i64,
    pub timeend: i64,
    pub suspend: bool,
}

/// A role given or taken back in a course: `core_role_assign_roles`,
/// `core_role_unassign_roles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub roleid: u64,
    pub userid: u64,
    pub courseid: u64,
}

/// A group to create: `core_group_create_groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub courseid: u64,
    pub name: String,
}

/// A membership added or removed: `core_group_add_group_members`,
/// `core_group_delete_group_members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub groupid: u64,
    pub userid: u64,
}

/// One write call: Moodle applies all its rows or none (each call is a transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Enrol(Vec<EnrolRow>),
    AssignRoles(Vec<RoleRow>),
    UnassignRoles(Vec<RoleRow>),
    CreateGroups(Vec<NewGroup>),
    AddMembers(Vec<MemberRow>),
    RemoveMembers(Vec<MemberRow>),
}

impl Write {
    /// The web-service function that makes it.
    pub fn function(&self) -> &'static str {
        match self {
            Write::Enrol(_) => "enrol_manual_enrol_users",
            Write::AssignRoles(_) => "core_role_assign_roles",
            Write::UnassignRoles(_) => "core_role_unassign_roles",
            Write::CreateGroups(_) => "core_group_create_groups",
            Write::AddMembers(_) => "core_group_add_group_members",
            Write::RemoveMembers(_) => "core_group_delete_group_members",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Write::Enrol(r) => r.len(),
            Write::AssignRoles(r) | Write::UnassignRoles(r) => r.len(),
            Write::CreateGroups(r) => r.len(),
            Write::AddMembers(r) | Write::RemoveMembers(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a write call gives back: nothing, or the ids of the groups it created, in
/// the order of its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Done,
    Groups(Vec<u64>),
}

/// Moodle's refusal of a call: its error code and message. A write call is one
/// transaction: nothing of it was applied. Decisions read the code, never the
/// message: a production site (debugging off) sends only the language string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A Moodle the channel can read and change. Every call may be made from several
/// threads at once.
pub trait MoodleApi: Sync {
    /// Names the platform's Moodle and its address, for messages.
    fn describe(&self) -> String;
    /// Requests sent so far.
    fn requests(&self) -> usize;
    /// Form fields one request may carry (the site's `max_input_vars`, less a margin).
    fn max_fields(&self) -> usize;
    /// Requests in flight at once.
    fn parallel(&self) -> usize;
    /// These courses (by shortname), each with its users (active and not), their
    /// roles and groups; a course Moodle lacks is `None`.
    fn read_courses(&self, shortnames: &[String]) -> Result<MoodleNow, SourceError>;
    /// The ids of these users; an unknown username is absent.
    fn user_ids(&self, usernames: &[&str]) -> Result<BTreeMap<String, u64>, SourceError>;
    /// Every group of these courses (by course id), name → id, empty ones included.
    fn course_groups(
        &self,
        course_ids: &[u64],
    ) -> Result<BTreeMap<u64, BTreeMap<String, u64>>, SourceError>;
    /// One write call: what Moodle gave back, or its refusal; an error when the
    /// answer never came or is not Moodle's (the server went away).
    fn write(&self, call: &Write) -> Result<Result<Written, Refused>, SourceError>;
}
