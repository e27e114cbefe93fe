-- Migration 5: the sending service per address beside its other details, so the dashboard
-- groups sources by service from one row per address instead of every record; filled from the
-- records.

ALTER TABLE ip_info_cache ADD COLUMN name TEXT;
ALTER TABLE ip_info_cache ADD COLUMN type TEXT;
INSERT INTO ip_info_cache (ip, status, base_domain, country, asn, as_name, as_domain, name, type,
                           resolved_at, expires_at)
  SELECT source_ip, 'unknown', max(source_base_domain), max(source_country), max(source_asn),
         max(source_as_name), max(source_as_domain), max(source_name), max(source_type), 0, 0
  FROM aggregate_records WHERE source_name IS NOT NULL OR source_country IS NOT NULL
    OR source_base_domain IS NOT NULL OR source_asn IS NOT NULL
  GROUP BY source_ip
  ON CONFLICT (ip) DO UPDATE SET name = excluded.name, type = excluded.type,
    base_domain = coalesce(ip_info_cache.base_domain, excluded.base_domain),
    country = coalesce(ip_info_cache.country, excluded.country),
    asn = coalesce(ip_info_cache.asn, excluded.asn),
    as_name = coalesce(ip_info_cache.as_name, excluded.as_name),
    as_domain = coalesce(ip_info_cache.as_domain, excluded.as_domain);
