-- `invoices:*` of managers predates this migration (built-in roles), so it stays.
UPDATE roles SET permissions = array_remove(permissions, 'invoices:read:own')
WHERE id = '00000000-0000-7000-8000-000000000004';
UPDATE roles SET permissions = array_remove(permissions, 'invoices:read')
WHERE id = '00000000-0000-7000-8000-000000000003';
DROP TABLE invoice_payments;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE invoice_counters;
