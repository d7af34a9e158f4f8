-- Net sales per store per business day, in USD: the SQL version of daily_net_sales'
-- metric_calculation/net_sales (pandas). net sales = sales lines (quantity x price - discount)
-- + returns (negative lines), converted with the day's USD rate of the line's currency.
-- A currency without a rate leaves net_sales_usd NULL, which the not_null review check rejects.
SELECT l.business_date,
       l.store_id,
       l.region,
       COUNT(DISTINCT l.transaction_id) AS transactions,
       SUM(CASE WHEN l.is_return THEN 0 ELSE l.quantity END) AS units_sold,
       ROUND(SUM(CASE WHEN l.is_return THEN 0 ELSE l.gross_amount * fx.usd_per_unit END), 2) AS gross_sales_usd,
       ROUND(SUM(CASE WHEN l.is_return THEN 0 ELSE l.discount * fx.usd_per_unit END), 2) AS discounts_usd,
       ROUND(SUM(CASE WHEN l.is_return THEN -l.gross_amount * fx.usd_per_unit ELSE 0 END), 2) AS returns_usd,
       ROUND(SUM(CASE WHEN l.is_return THEN 0 ELSE l.gross_amount * fx.usd_per_unit END)
             - SUM(CASE WHEN l.is_return THEN 0 ELSE l.discount * fx.usd_per_unit END)
             - SUM(CASE WHEN l.is_return THEN -l.gross_amount * fx.usd_per_unit ELSE 0 END), 2) AS net_sales_usd
FROM {{ input("pos_transactions_clean_sql") }} AS l
LEFT JOIN {{ input("fx_rates") }} AS fx ON fx.currency = l.currency
GROUP BY l.business_date, l.store_id, l.region
