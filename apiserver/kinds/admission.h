// Admission checks that read other objects (Registry::setAdmission), wired by main.
#pragma once

#include "apiserver/registry.h"

namespace tessera::apiserver {

/// A ShardMap may give buckets only to cells that exist, are RZone cells, and are Active
/// (status.phase Active, or not yet set).
Registry::Admission shardMapAdmission(Storage& storage);

/// A cell lives in one datacenter: the member clusters it names that exist all have the same
/// spec.zone (clusters not registered yet are not checked).
Registry::Admission cellAdmission(Storage& storage);

}  // namespace tessera::apiserver
