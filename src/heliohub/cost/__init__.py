"""What a deployment costs: prices (shipped table or the AWS Price List API) and estimates."""
