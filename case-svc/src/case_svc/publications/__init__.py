"""The certificates completed cases issue, published to the exchange's certificate library."""
