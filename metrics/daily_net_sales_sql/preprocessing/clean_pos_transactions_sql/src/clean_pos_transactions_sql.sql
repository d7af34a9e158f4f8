-- De-duplicated, valid POS lines with the store's region and local-currency amounts:
-- the SQL version of daily_net_sales' preprocessing/clean_pos_transactions.py, run in the warehouse.
-- Drops exact duplicate lines (same transaction_id and line_no), lines whose store is missing or
-- unknown, zero quantities, non-positive prices and currencies other than the store's.
WITH lines AS (
    SELECT p.*,
           ROW_NUMBER() OVER (PARTITION BY p.transaction_id, p.line_no ORDER BY p.sold_at) AS copy_no
    FROM {{ input("pos_transactions") }} AS p
    WHERE p.business_date = :partition_date
)
SELECT l.transaction_id,
       l.line_no,
       l.business_date,
       l.store_id,
       s.region,
       l.product_id,
       l.quantity,
       l.unit_price,
       l.discount,
       l.currency,
       l.is_return,
       ROUND(l.quantity * l.unit_price, 2) AS gross_amount,
       ROUND(ROUND(l.quantity * l.unit_price, 2) - l.discount, 2) AS net_amount
FROM lines AS l
JOIN {{ input("stores") }} AS s ON s.store_id = l.store_id
WHERE l.copy_no = 1
  AND l.quantity <> 0
  AND l.unit_price > 0
  AND l.currency = s.currency
