Feature: turnover (Scala) relates net units sold to the stock on hand, per store and product

  Background:
    Given the node "inventory_turnover/turnover"

  Scenario: turnover and days of supply of a product that sold
    Given the input "inventory_snapshots":
      | business_date | store_id | product_id | opening_units | closing_units |
      | 2024-06-03    | S001     | P0001      | 12            | 8             |
    And the input "product_sales_daily":
      | business_date | store_id | product_id | units_sold | units_returned | net_units |
      | 2024-06-03    | S001     | P0001      | 5          | 1              | 4         |
    When the node runs
    Then the output "inventory_turnover_daily" has exactly these rows:
      | store_id | product_id | net_units_sold | average_on_hand_units | inventory_turnover | days_of_supply |
      | S001     | P0001      | 4              | 10.0                  | 0.4                | 2.00           |

  Scenario: a product with no sales has zero turnover and no days of supply
    Given the input "inventory_snapshots":
      | business_date | store_id | product_id | opening_units | closing_units |
      | 2024-06-03    | S001     | P0002      | 6             | 6             |
    And the input "product_sales_daily":
      | business_date | store_id | product_id | units_sold | units_returned | net_units |
      | 2024-06-03    | S001     | P0001      | 5          | 1              | 4         |
    When the node runs
    Then the output "inventory_turnover_daily" has exactly these rows:
      | store_id | product_id | net_units_sold | inventory_turnover | days_of_supply |
      | S001     | P0002      | 0              | 0.0                |                |

  Scenario: nothing on hand means no turnover
    Given the input "inventory_snapshots":
      | business_date | store_id | product_id | opening_units | closing_units |
      | 2024-06-03    | S001     | P0003      | 0             | 0             |
    And the input "product_sales_daily":
      | business_date | store_id | product_id | units_sold | units_returned | net_units |
      | 2024-06-03    | S001     | P0003      | 0          | 0              | 0         |
    When the node runs
    Then the output "inventory_turnover_daily" has these rows:
      | store_id | product_id | inventory_turnover |
      | S001     | P0003      |                    |
