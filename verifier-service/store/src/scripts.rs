//! Every Lua script of the store, in one registry. Each script's source is its own file under
//! `store/lua/`; [`LuaScript::ALL`] lists them all, [`Store::load_scripts`](super::Store::load_scripts)
//! preloads every one, and calls run them by hash with the source beside it for the `EVAL`
//! fallback.
//!
//! Each script touches the keys of one hash tag only (one user's, or the feed's), every one of
//! them named in KEYS or built from a prefix of the same tag, so it runs on Redis Cluster too.
//! The session scripts that rate-limit or end a family start with `lua/prelude/session_common.lua`
//! (`gcra`, `end_family`).

use redis::Script;

/// Lua shared by the scripts of sessions with refresh families.
macro_rules! with_session_prelude {
    ($file:literal) => {
        concat!(
            include_str!("lua/prelude/session_common.lua"),
            include_str!($file)
        )
    };
}

/// One script of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LuaScript {
    /// The per-user part of a check (`store::Store::check`).
    Check,
    RevokeJti,
    RevokeUser,
    CreateSession,
    ListSessions,
    DeleteSession,
    RevokeAll,
    /// A session that owns a refresh family (`store::sessions`).
    CreateWithRefresh,
    Refresh,
    RevokeRefresh,
    IntrospectRefresh,
    /// A rate-limit budget (`store::sessions`).
    Rate,
    /// The revocation feed (`store::feed`).
    FeedAppend,
    FeedSnapshot,
}

impl LuaScript {
    /// Every script, each at the index of its discriminant.
    pub const ALL: [LuaScript; 14] = [
        LuaScript::Check,
        LuaScript::RevokeJti,
        LuaScript::RevokeUser,
        LuaScript::CreateSession,
        LuaScript::ListSessions,
        LuaScript::DeleteSession,
        LuaScript::RevokeAll,
        LuaScript::CreateWithRefresh,
        LuaScript::Refresh,
        LuaScript::RevokeRefresh,
        LuaScript::IntrospectRefresh,
        LuaScript::Rate,
        LuaScript::FeedAppend,
        LuaScript::FeedSnapshot,
    ];

    /// The script's file under `store/lua/`.
    pub fn file_name(self) -> &'static str {
        match self {
            LuaScript::Check => "check.lua",
            LuaScript::RevokeJti => "revoke_jti.lua",
            LuaScript::RevokeUser => "revoke_user.lua",
            LuaScript::CreateSession => "create_session.lua",
            LuaScript::ListSessions => "list_sessions.lua",
            LuaScript::DeleteSession => "delete_session.lua",
            LuaScript::RevokeAll => "revoke_all.lua",
            LuaScript::CreateWithRefresh => "create_with_refresh.lua",
            LuaScript::Refresh => "refresh.lua",
            LuaScript::RevokeRefresh => "revoke_refresh.lua",
            LuaScript::IntrospectRefresh => "introspect_refresh.lua",
            LuaScript::Rate => "rate.lua",
            LuaScript::FeedAppend => "feed_append.lua",
            LuaScript::FeedSnapshot => "feed_snapshot.lua",
        }
    }

    /// The source Redis runs (with its prelude, if it has one).
    pub fn source(self) -> &'static str {
        match self {
            LuaScript::Check => include_str!("lua/check.lua"),
            LuaScript::RevokeJti => include_str!("lua/revoke_jti.lua"),
            LuaScript::RevokeUser => include_str!("lua/revoke_user.lua"),
            LuaScript::CreateSession => include_str!("lua/create_session.lua"),
            LuaScript::ListSessions => include_str!("lua/list_sessions.lua"),
            LuaScript::DeleteSession => include_str!("lua/delete_session.lua"),
            LuaScript::RevokeAll => include_str!("lua/revoke_all.lua"),
            LuaScript::CreateWithRefresh => include_str!("lua/create_with_refresh.lua"),
            LuaScript::Refresh => with_session_prelude!("lua/refresh.lua"),
            LuaScript::RevokeRefresh => with_session_prelude!("lua/revoke_refresh.lua"),
            LuaScript::IntrospectRefresh => include_str!("lua/introspect_refresh.lua"),
            LuaScript::Rate => with_session_prelude!("lua/rate.lua"),
            LuaScript::FeedAppend => include_str!("lua/feed_append.lua"),
            LuaScript::FeedSnapshot => include_str!("lua/feed_snapshot.lua"),
        }
    }
}

/// Every script with its hash (SHA-1 of the source, for `EVALSHA`), computed once per store.
pub struct Scripts {
    hashed: [Script; LuaScript::ALL.len()],
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            hashed: LuaScript::ALL.map(|which| Script::new(which.source())),
        }
    }
}

impl Scripts {
    /// The script `which`, ready to run by hash or by source.
    pub(super) fn get(&self, which: LuaScript) -> ScriptRef<'_> {
        // In bounds: `ALL` has one entry per variant, at the index of its discriminant (tested).
        #[allow(clippy::indexing_slicing)]
        let script = &self.hashed[which as usize];
        ScriptRef {
            script,
            source: which.source(),
        }
    }

    /// The hash `EVALSHA` runs `which` by.
    pub fn hash(&self, which: LuaScript) -> String {
        self.get(which).script.get_hash().to_owned()
    }
}

/// A script with its source kept beside the hash, for the EVAL fallback.
pub(super) struct ScriptRef<'a> {
    script: &'a Script,
    source: &'static str,
}

impl ScriptRef<'_> {
    /// EVALSHA (normal case) or EVAL (after NOSCRIPT) of the script.
    pub(super) fn cmd(&self, by_hash: bool, keys: &[&str], args: &[&str]) -> redis::Cmd {
        let mut cmd = if by_hash {
            let mut c = redis::cmd("EVALSHA");
            c.arg(self.script.get_hash());
            c
        } else {
            let mut c = redis::cmd("EVAL");
            c.arg(self.source);
            c
        };
        cmd.arg(keys.len()).arg(keys).arg(args);
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_sits_at_the_index_of_its_discriminant() {
        for (index, which) in LuaScript::ALL.iter().enumerate() {
            assert_eq!(*which as usize, index, "{which:?}");
        }
    }

    #[test]
    fn every_script_has_its_own_file_and_source() {
        let mut files: Vec<&str> = LuaScript::ALL.iter().map(|s| s.file_name()).collect();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), LuaScript::ALL.len());
        let scripts = Scripts::default();
        let mut hashes: Vec<String> = LuaScript::ALL.iter().map(|s| scripts.hash(*s)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), LuaScript::ALL.len());
    }

    #[test]
    fn the_prelude_comes_first_where_the_body_calls_it() {
        for which in LuaScript::ALL {
            let calls_prelude = which
                .source()
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .any(|line| line.contains("gcra(") || line.contains("end_family("));
            let has_prelude = which.source().contains("local function gcra(");
            assert_eq!(calls_prelude, has_prelude, "{which:?}");
        }
    }
}
