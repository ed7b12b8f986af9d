"""People and access: users and roles managed in the product, and sign-in safety."""
