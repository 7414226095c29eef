// Versioned schema migrations, applied at start-up.
//
// Each migration runs once, in its own transaction, in version order, and is recorded in
// tessera.schema_migrations. Server processes starting together serialise on an advisory
// lock, so exactly one applies each migration. A database newer than this binary (a version
// this binary does not know) is refused rather than guessed at.
#pragma once

#include <pqxx/connection>

#include "common/status.h"

namespace tessera::apiserver::pg {

/// Highest schema version this binary knows.
int latestSchemaVersion();

/// Brings the database to latestSchemaVersion(). Blocking; call before serving.
Status migrate(pqxx::connection& conn);

}  // namespace tessera::apiserver::pg
