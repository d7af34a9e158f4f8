Feature: basket_stats (Java) counts baskets and their mean size and value per store and day

  Background:
    Given the node "daily_net_sales/basket_stats"
    And the input "fx_rates":
      | currency | usd_per_unit |
      | USD      | 1.0          |
      | EUR      | 2.0          |

  Scenario: a basket's mean value is what was paid for its sales lines, in USD
    Given the input "pos_transactions_clean":
      | transaction_id | line_no | business_date | store_id | region | product_id | quantity | unit_price | discount | currency | is_return | gross_amount | net_amount |
      | T1             | 1       | 2024-06-03    | S001     | Europe | P0001      | 2        | 5.00       | 0.00     | EUR      | false     | 10.00        | 10.00      |
      | T1             | 2       | 2024-06-03    | S001     | Europe | P0002      | 1        | 3.00       | 0.50     | EUR      | false     | 3.00         | 2.50       |
      | T2             | 1       | 2024-06-03    | S001     | Europe | P0003      | 1        | 7.50       | 0.00     | EUR      | false     | 7.50         | 7.50       |
    When the node runs
    Then the output "basket_stats_daily" has exactly these rows:
      | business_date | store_id | baskets | mean_items_per_basket | mean_basket_value_usd |
      | 2024-06-03    | S001     | 2       | 2.0                   | 20.00                 |

  Scenario: a transaction of returns only is not a basket
    Given the input "pos_transactions_clean":
      | transaction_id | line_no | business_date | store_id | region | product_id | quantity | unit_price | discount | currency | is_return | gross_amount | net_amount |
      | T1             | 1       | 2024-06-03    | S002     | Europe | P0001      | 1        | 4.00       | 0.00     | USD      | false     | 4.00         | 4.00       |
      | T2             | 1       | 2024-06-03    | S002     | Europe | P0001      | -1       | 4.00       | 0.00     | USD      | true      | -4.00        | -4.00      |
    When the node runs
    Then the output "basket_stats_daily" has these rows:
      | store_id | baskets | mean_items_per_basket | mean_basket_value_usd |
      | S002     | 1       | 1.0                   | 4.00                  |
