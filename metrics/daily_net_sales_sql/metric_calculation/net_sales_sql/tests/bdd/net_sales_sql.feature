Feature: net_sales_sql (SQL, run in a scratch schema) sums sales minus discounts minus returns per store and day, in USD

  Background:
    Given the node "daily_net_sales_sql/net_sales_sql"
    And the input "fx_rates":
      | currency | usd_per_unit |
      | USD      | 1.0          |
      | EUR      | 1.1          |

  Scenario: a return reduces net sales
    Given the input "pos_transactions_clean_sql":
      | transaction_id | line_no | business_date | store_id | region        | product_id | quantity | unit_price | discount | currency | is_return | gross_amount | net_amount |
      | T1             | 1       | 2024-06-03    | S001     | North America | P0001      | 2        | 10.00      | 1.00     | USD      | false     | 20.00        | 19.00      |
      | T2             | 1       | 2024-06-03    | S001     | North America | P0001      | -1       | 10.00      | 0.00     | USD      | true      | -10.00       | -10.00     |
    When the node runs
    Then the output "net_sales_daily_sql" has exactly these rows:
      | business_date | store_id | transactions | units_sold | gross_sales_usd | discounts_usd | returns_usd | net_sales_usd |
      | 2024-06-03    | S001     | 2            | 2          | 20.00           | 1.00          | 10.00       | 9.00          |

  Scenario: local currency is converted with the day's rate, per store
    Given the input "pos_transactions_clean_sql":
      | transaction_id | line_no | business_date | store_id | region        | product_id | quantity | unit_price | discount | currency | is_return | gross_amount | net_amount |
      | T1             | 1       | 2024-06-03    | S010     | Europe        | P0001      | 2        | 10.00      | 0.00     | EUR      | false     | 20.00        | 20.00      |
      | T2             | 1       | 2024-06-03    | S001     | North America | P0002      | 1        | 5.00       | 0.00     | USD      | false     | 5.00         | 5.00       |
    When the node runs
    Then the output "net_sales_daily_sql" has 2 rows
    And the output "net_sales_daily_sql" has these rows:
      | store_id | net_sales_usd |
      | S010     | 22.00         |
      | S001     | 5.00          |
