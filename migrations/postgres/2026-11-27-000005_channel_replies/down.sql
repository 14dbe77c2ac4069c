DROP TABLE sending_domains;
DROP INDEX channels_company_from_name;
ALTER TABLE channels DROP COLUMN company_from_name;
ALTER TABLE channels DROP COLUMN finished_at;
ALTER TABLE channels DROP COLUMN signature_html;
ALTER TABLE channels DROP COLUMN from_address;
ALTER TABLE channels DROP COLUMN from_name_mode;
