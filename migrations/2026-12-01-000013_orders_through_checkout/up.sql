-- Customers place orders through checkout, which takes the payment: an order placed directly
-- is unpaid and would hold stock until staff cancel it, so the customer role loses
-- `orders:create:own` (the order service refuses it on any role).
UPDATE roles SET permissions = array_remove(permissions, 'orders:create:own')
    WHERE id = '00000000-0000-7000-8000-000000000004';
