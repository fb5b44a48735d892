UPDATE roles SET permissions = array_remove(permissions, 'pricing:*')
WHERE id = '00000000-0000-7000-8000-000000000002';
DROP TABLE discount_redemptions;
DROP TABLE discount_codes;
DROP TABLE tax_rates;
DROP TABLE shipping_methods;
