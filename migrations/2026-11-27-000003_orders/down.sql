DROP TABLE order_history;
DROP TABLE order_items;
DROP TABLE orders;
DROP SEQUENCE order_number_seq;
DROP TABLE wishlist_items;
ALTER TABLE customers DROP CONSTRAINT customers_default_shipping_fkey, DROP CONSTRAINT customers_default_billing_fkey;
DROP TABLE customer_addresses;
DROP TABLE customers;
