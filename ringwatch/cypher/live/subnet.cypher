MATCH (s:Subnet {key: $subnet}) RETURN s.accounts AS accounts
