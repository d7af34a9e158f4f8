Feature: product_sales counts units sold and returned per store, product and day

  Background:
    Given the node "daily_net_sales/product_sales"

  Scenario: returns are counted apart and net units subtract them
    Given the input "pos_transactions_clean":
      | transaction_id | line_no | business_date | store_id | product_id | quantity | is_return |
      | T1             | 1       | 2024-06-03    | S001     | P0001      | 3        | false     |
      | T2             | 1       | 2024-06-03    | S001     | P0001      | 2        | false     |
      | T3             | 1       | 2024-06-03    | S001     | P0001      | -1       | true      |
      | T3             | 2       | 2024-06-03    | S001     | P0002      | 4        | false     |
    When the node runs
    Then the output "product_sales_daily" has exactly these rows:
      | business_date | store_id | product_id | units_sold | units_returned | net_units |
      | 2024-06-03    | S001     | P0001      | 5          | 1              | 4         |
      | 2024-06-03    | S001     | P0002      | 4          | 0              | 4         |

  Scenario: the same product in two stores gives two rows
    Given the input "pos_transactions_clean":
      | transaction_id | line_no | business_date | store_id | product_id | quantity | is_return |
      | T1             | 1       | 2024-06-03    | S001     | P0001      | 1        | false     |
      | T2             | 1       | 2024-06-03    | S002     | P0001      | 1        | false     |
    When the node runs
    Then the output "product_sales_daily" has 2 rows
