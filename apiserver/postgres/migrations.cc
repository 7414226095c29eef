#include "apiserver/postgres/migrations.h"

#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "apiserver/postgres/db_pool.h"
#include "common/logging.h"

namespace tessera::apiserver::pg {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Never edit a migration that has shipped: add a new one.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "objects, revisions, audit, credentials, compaction", R"SQL(
-- Every change to an object is a revision. The resource version of a revision is the
-- 64-bit id of the transaction that wrote it (pg_current_xact_id), taken after the writer
-- holds the per-object lock. Readers take the versions below their snapshot's xmin as
-- settled: no transaction that could still commit a smaller version is running. See
-- docs/storage.md for why this keeps watch streams gap-free.
CREATE TABLE tessera.revisions (
  rv         bigint PRIMARY KEY,
  kind       text COLLATE "C" NOT NULL,
  namespace  text COLLATE "C" NOT NULL,
  name       text COLLATE "C" NOT NULL,
  type       text NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
  body       jsonb NOT NULL,
  prev_rv    bigint,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revisions_by_key ON tessera.revisions (kind, namespace, name, rv);
CREATE INDEX revisions_by_time ON tessera.revisions (created_at);

-- The live objects: one row per existing object, pointing at its latest revision.
CREATE TABLE tessera.objects (
  kind      text COLLATE "C" NOT NULL,
  namespace text COLLATE "C" NOT NULL,
  name      text COLLATE "C" NOT NULL,
  rv        bigint NOT NULL,
  PRIMARY KEY (kind, namespace, name)
);

-- SHA-256 of the secrets of credential-issuing objects (APIToken). Never the secret.
CREATE TABLE tessera.credentials (
  hash      text PRIMARY KEY,
  kind      text COLLATE "C" NOT NULL,
  namespace text COLLATE "C" NOT NULL,
  name      text COLLATE "C" NOT NULL,
  UNIQUE (kind, namespace, name)
);

CREATE TABLE tessera.audit (
  id          bigserial PRIMARY KEY,
  received_at timestamptz NOT NULL,
  username    text NOT NULL,
  role        text NOT NULL,
  verb        text NOT NULL,
  resource    text NOT NULL,
  subresource text NOT NULL DEFAULT '',
  namespace   text NOT NULL DEFAULT '',
  name        text NOT NULL DEFAULT '',
  code        int NOT NULL,
  reason      text NOT NULL DEFAULT '',
  message     text NOT NULL DEFAULT '',
  rv_before   bigint,
  rv_after    bigint,
  request_id  text NOT NULL DEFAULT '',
  source_ip   text NOT NULL DEFAULT '',
  user_agent  text NOT NULL DEFAULT '',
  dry_run     boolean NOT NULL DEFAULT false
);
CREATE INDEX audit_by_user ON tessera.audit (username, id);
CREATE INDEX audit_by_object ON tessera.audit (resource, name, id);
CREATE INDEX audit_by_time ON tessera.audit (received_at);

-- Revisions older than the horizon may be gone: watches and pagination from before it get
-- 410 Gone.
CREATE TABLE tessera.compaction (
  id           int PRIMARY KEY CHECK (id = 1),
  horizon      bigint NOT NULL,
  compacted_at timestamptz
);
INSERT INTO tessera.compaction VALUES (1, 0, NULL);

CREATE FUNCTION tessera.audit_failure(
  p_received timestamptz, p_user text, p_role text, p_verb text, p_resource text,
  p_subresource text, p_namespace text, p_name text, p_code int, p_reason text,
  p_rv_before bigint, p_request_id text, p_source_ip text, p_user_agent text)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO tessera.audit (received_at, username, role, verb, resource, subresource, namespace,
                             name, code, reason, rv_before, request_id, source_ip, user_agent)
  VALUES (p_received, p_user, p_role, p_verb, p_resource, p_subresource, p_namespace, p_name,
          p_code, p_reason, p_rv_before, p_request_id, p_source_ip, p_user_agent);
$$;

-- One write: create, update or delete of one object, with its revision and audit row, in the
-- caller's (single-statement) transaction. Returns outcome 'ok', 'exists', 'not_found' or
-- 'conflict'; on anything but 'ok' nothing but the audit row is written.
CREATE FUNCTION tessera.write(
  p_op text, p_kind text, p_namespace text, p_name text, p_expected_rv bigint, p_body jsonb,
  p_credential_hash text, p_received timestamptz, p_user text, p_role text, p_verb text,
  p_resource text, p_subresource text, p_code int, p_request_id text, p_source_ip text,
  p_user_agent text)
RETURNS TABLE (outcome text, rv bigint, prev_rv bigint, body text)
LANGUAGE plpgsql AS $$
DECLARE
  v_cur  bigint;
  v_rv   bigint;
  v_body jsonb;
BEGIN
  -- Writers of one object serialise here, before they take a transaction id: per object,
  -- resource versions are in commit order.
  PERFORM pg_advisory_xact_lock(hashtextextended(p_kind || '/' || p_namespace || '/' || p_name, 0));
  SELECT o.rv INTO v_cur FROM tessera.objects o
   WHERE o.kind = p_kind AND o.namespace = p_namespace AND o.name = p_name;

  IF p_op = 'create' AND v_cur IS NOT NULL THEN
    PERFORM tessera.audit_failure(p_received, p_user, p_role, p_verb, p_resource, p_subresource,
      p_namespace, p_name, 409, 'AlreadyExists', v_cur, p_request_id, p_source_ip, p_user_agent);
    RETURN QUERY SELECT 'exists'::text, v_cur, NULL::bigint, NULL::text;
    RETURN;
  ELSIF p_op <> 'create' AND v_cur IS NULL THEN
    PERFORM tessera.audit_failure(p_received, p_user, p_role, p_verb, p_resource, p_subresource,
      p_namespace, p_name, 404, 'NotFound', NULL, p_request_id, p_source_ip, p_user_agent);
    RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::bigint, NULL::text;
    RETURN;
  ELSIF p_op <> 'create' AND p_expected_rv <> 0 AND v_cur <> p_expected_rv THEN
    PERFORM tessera.audit_failure(p_received, p_user, p_role, p_verb, p_resource, p_subresource,
      p_namespace, p_name, 409, 'Conflict', v_cur, p_request_id, p_source_ip, p_user_agent);
    RETURN QUERY SELECT 'conflict'::text, v_cur, NULL::bigint, NULL::text;
    RETURN;
  END IF;

  v_rv := pg_current_xact_id()::text::bigint;

  IF p_op = 'delete' THEN
    SELECT jsonb_set(r.body, '{metadata,resourceVersion}', to_jsonb(v_rv::text)) INTO v_body
      FROM tessera.revisions r WHERE r.rv = v_cur;
    DELETE FROM tessera.objects o
     WHERE o.kind = p_kind AND o.namespace = p_namespace AND o.name = p_name;
    DELETE FROM tessera.credentials c
     WHERE c.kind = p_kind AND c.namespace = p_namespace AND c.name = p_name;
    INSERT INTO tessera.revisions (rv, kind, namespace, name, type, body, prev_rv)
    VALUES (v_rv, p_kind, p_namespace, p_name, 'DELETED', v_body, v_cur);
  ELSE
    v_body := jsonb_set(p_body, '{metadata,resourceVersion}', to_jsonb(v_rv::text));
    IF p_op = 'create' THEN
      INSERT INTO tessera.objects (kind, namespace, name, rv)
      VALUES (p_kind, p_namespace, p_name, v_rv);
      IF p_credential_hash IS NOT NULL AND p_credential_hash <> '' THEN
        INSERT INTO tessera.credentials (hash, kind, namespace, name)
        VALUES (p_credential_hash, p_kind, p_namespace, p_name);
      END IF;
      INSERT INTO tessera.revisions (rv, kind, namespace, name, type, body, prev_rv)
      VALUES (v_rv, p_kind, p_namespace, p_name, 'ADDED', v_body, NULL);
    ELSE
      UPDATE tessera.objects o SET rv = v_rv
       WHERE o.kind = p_kind AND o.namespace = p_namespace AND o.name = p_name;
      INSERT INTO tessera.revisions (rv, kind, namespace, name, type, body, prev_rv)
      VALUES (v_rv, p_kind, p_namespace, p_name, 'MODIFIED', v_body, v_cur);
    END IF;
  END IF;

  INSERT INTO tessera.audit (received_at, username, role, verb, resource, subresource, namespace,
                             name, code, rv_before, rv_after, request_id, source_ip, user_agent)
  VALUES (p_received, p_user, p_role, p_verb, p_resource, p_subresource, p_namespace, p_name,
          p_code, v_cur, v_rv, p_request_id, p_source_ip, p_user_agent);

  RETURN QUERY SELECT 'ok'::text, v_rv, v_cur, v_body::text;
END
$$;

-- Waits until every transaction that had finished or was running when it was called has
-- finished, so that a snapshot taken afterwards sees every write acknowledged before the
-- call. Returns the number of 0.5 ms waits (0 in the common case).
CREATE FUNCTION tessera.wait_settled(p_timeout_ms int) RETURNS int
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_xmax     xid8 := pg_snapshot_xmax(pg_current_snapshot());
  v_deadline timestamptz := clock_timestamp() + p_timeout_ms * interval '1 millisecond';
  v_waits    int := 0;
BEGIN
  LOOP
    EXIT WHEN pg_snapshot_xmin(pg_current_snapshot()) >= v_xmax;
    IF clock_timestamp() > v_deadline THEN
      RAISE EXCEPTION 'transactions older than % still running after % ms', v_xmax, p_timeout_ms
        USING ERRCODE = '57014';
    END IF;
    v_waits := v_waits + 1;
    PERFORM pg_sleep(0.0005);
  END LOOP;
  RETURN v_waits;
END
$$;
)SQL"},
      {2, "leaner write path: history found by version only; settled watermark for lists",
       R"SQL(
-- Every index on tessera.revisions is paid on every write. Readers find history by version
-- (the primary key) and the compactor walks versions too, so these two go.
DROP INDEX tessera.revisions_by_key;
DROP INDEX tessera.revisions_by_time;

-- The compactor records (time, watermark) at every run; the horizon for a retention R is the
-- newest watermark recorded more than R ago. compacted_to is how far superseded revisions
-- have been deleted (the horizon moves first, for readers; deletion catches up after).
CREATE TABLE tessera.rv_clock (
  recorded_at timestamptz PRIMARY KEY,
  rv          bigint NOT NULL
);
ALTER TABLE tessera.compaction ADD COLUMN compacted_to bigint NOT NULL DEFAULT 0;

-- Like wait_settled, then returns the settled watermark: every version up to it belongs to a
-- finished transaction, and every write acknowledged before the call is at or below it.
CREATE FUNCTION tessera.settled_watermark(p_timeout_ms int) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM tessera.wait_settled(p_timeout_ms);
  RETURN pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1;
END
$$;
)SQL"},
  };
  return kMigrations;
}

constexpr long long kMigrationLockKey = 0x7465737365726131LL;  // "tessera1"

}  // namespace

int latestSchemaVersion() {
  return migrations().back().version;
}

Status migrate(pqxx::connection& conn) {
  auto log = getLogger("storage");
  try {
    pqxx::nontransaction session(conn);
    session.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLockKey) + ")");
    session.exec0("CREATE SCHEMA IF NOT EXISTS tessera");
    session.exec0(
        "CREATE TABLE IF NOT EXISTS tessera.schema_migrations ("
        " version int PRIMARY KEY, description text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    int current =
        session.exec1("SELECT coalesce(max(version), 0) FROM tessera.schema_migrations")[0]
            .as<int>();
    session.commit();
    Status result;
    if (current > latestSchemaVersion()) {
      result = Status(StatusCode::kFailedPrecondition,
                      "database schema version " + std::to_string(current) +
                          " is newer than this binary knows (" +
                          std::to_string(latestSchemaVersion()) + "); upgrade tessera-server");
    }
    for (const auto& m : migrations()) {
      if (!result.isOk() || m.version <= current) continue;
      pqxx::work tx(conn);
      tx.exec0(m.sql);
      tx.exec_params0(
          "INSERT INTO tessera.schema_migrations (version, description) VALUES ($1, $2)", m.version,
          m.description);
      tx.commit();
      log->info("applied migration version={} description=\"{}\"", m.version, m.description);
    }
    pqxx::nontransaction unlock(conn);
    unlock.exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLockKey) + ")");
    return result;
  } catch (...) {
    return classifyCurrentException();
  }
}

}  // namespace tessera::apiserver::pg
