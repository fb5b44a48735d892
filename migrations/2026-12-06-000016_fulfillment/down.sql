UPDATE roles SET permissions = array_remove(permissions, 'shipments:read:own')
    WHERE id = '00000000-0000-7000-8000-000000000004';
DROP TABLE shipment_packages;
DROP TABLE shipment_lines;
DROP TABLE shipments;
DROP SEQUENCE shipment_number_seq;
DROP TABLE fulfillment_order_lines;
DROP TABLE fulfillment_orders;
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('pending', 'processing', 'shipped', 'delivered', 'completed', 'on_hold', 'cancelled', 'archived'));
