DROP TABLE order_status_links;
