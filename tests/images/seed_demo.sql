-- Seeded demo database for the legacy-pg images: a small shop with related
-- rows (a few thousand), deterministic so that counts and checksums are stable.
-- Valid on PostgreSQL 9.4 and later (serial, no identity columns).
-- Run through tests/images/seed_demo.sh; safe to run again (it starts over).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS order_items, orders, products, customers;

CREATE TABLE customers (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);
CREATE TABLE products (
    id     serial PRIMARY KEY,
    sku    text NOT NULL UNIQUE,
    name   text NOT NULL,
    price  numeric(10,2) NOT NULL
);
CREATE TABLE orders (
    id           serial PRIMARY KEY,
    customer_id  integer NOT NULL REFERENCES customers(id),
    ordered_at   timestamptz NOT NULL,
    status       text NOT NULL
);
CREATE TABLE order_items (
    order_id    integer NOT NULL REFERENCES orders(id),
    product_id  integer NOT NULL REFERENCES products(id),
    quantity    integer NOT NULL,
    unit_price  numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

INSERT INTO customers (name, email, created_at)
SELECT 'Cliente ' || i, 'cliente' || i || '@exemplo.com.br',
       timestamptz '2015-01-01 00:00:00+00' + (i * interval '7 hours')
FROM generate_series(1, 500) AS i;

INSERT INTO products (sku, name, price)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Produto ' || i, round((5 + (i * 37) % 495)::numeric + 0.99, 2)
FROM generate_series(1, 200) AS i;

INSERT INTO orders (customer_id, ordered_at, status)
SELECT 1 + (i * 7) % 500, timestamptz '2016-01-01 00:00:00+00' + (i * interval '3 hours'),
       (ARRAY['novo', 'pago', 'enviado', 'entregue', 'cancelado'])[1 + i % 5]
FROM generate_series(1, 3000) AS i;

INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o.id, 1 + (o.id * 13 + k * 71) % 200, 1 + (o.id + k) % 4, p.price
FROM orders o
CROSS JOIN generate_series(0, 1) AS k
JOIN products p ON p.id = 1 + (o.id * 13 + k * 71) % 200;

-- A read-only role of the shop: a global the ingest copies (or reports as a conflict).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop_reader') THEN
        CREATE ROLE shop_reader NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO shop_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO shop_reader;

ANALYZE;
