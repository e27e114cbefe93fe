// The PostgreSQL store's health: Ping, Health, CheckIntegrity.
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

Result<bool> PgStore::Ping() { return conn_.Exec("SELECT 1"); }
Result<bool> PgStore::Health() { return Ping(); }
Result<bool> PgStore::CheckIntegrity() { return Ping(); }

}  // namespace dmarc::store::pg_impl
