Feature: clean_pos_transactions_sql (SQL, run in a scratch schema) keeps valid, de-duplicated POS lines with their amounts

  Background:
    Given the node "daily_net_sales_sql/clean_pos_transactions_sql"
    And the input "stores":
      | store_id | region | currency |
      | S001     | Europe | EUR      |

  Scenario: an exact duplicate line is kept once
    Given the input "pos_transactions":
      | transaction_id | line_no | business_date | store_id | product_id | quantity | unit_price | discount | currency | is_return |
      | T1             | 1       | 2024-06-03    | S001     | P0001      | 2        | 10.00      | 1.00     | EUR      | false     |
      | T1             | 1       | 2024-06-03    | S001     | P0001      | 2        | 10.00      | 1.00     | EUR      | false     |
      | T2             | 1       | 2024-06-03    | S001     | P0002      | 1        | 4.50       | 0.00     | EUR      | false     |
    When the node runs
    Then the output "pos_transactions_clean_sql" has exactly these rows:
      | transaction_id | line_no | region | gross_amount | net_amount |
      | T1             | 1       | Europe | 20.00        | 19.00      |
      | T2             | 1       | Europe | 4.50         | 4.50       |

  Scenario: malformed lines are removed
    Given the input "pos_transactions":
      | transaction_id | line_no | business_date | store_id | product_id | quantity | unit_price | discount | currency | is_return |
      | T1             | 1       | 2024-06-03    | S001     | P0001      | 1        | 5.00       | 0.00     | EUR      | false     |
      | T2             | 1       | 2024-06-03    | S999     | P0001      | 1        | 5.00       | 0.00     | EUR      | false     |
      | T3             | 1       | 2024-06-03    |          | P0001      | 1        | 5.00       | 0.00     | EUR      | false     |
      | T4             | 1       | 2024-06-03    | S001     | P0001      | 0        | 5.00       | 0.00     | EUR      | false     |
      | T5             | 1       | 2024-06-03    | S001     | P0001      | 1        | -5.00      | 0.00     | EUR      | false     |
      | T6             | 1       | 2024-06-03    | S001     | P0001      | 1        | 5.00       | 0.00     | XXX      | false     |
    When the node runs
    Then the output "pos_transactions_clean_sql" has exactly these rows:
      | transaction_id | line_no |
      | T1             | 1       |
