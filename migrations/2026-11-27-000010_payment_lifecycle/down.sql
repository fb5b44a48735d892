ALTER TABLE products DROP COLUMN tax_class;
DROP TABLE stablecoin_transfers;
DROP TABLE stablecoin_requests;
ALTER TABLE payments DROP COLUMN failure_code;
DELETE FROM payments WHERE status IN ('pending', 'expired');
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN (
    'authorized', 'captured', 'failed', 'voided', 'partially_refunded', 'refunded'));
