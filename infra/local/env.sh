# Sourced by common.sh (moto_env, moto_up: every infra script) and by hand: points the AWS SDK
# at moto on port $1 with dummy credentials.
# Nothing in the functions knows it is local; only these variables differ from AWS.
export AWS_ENDPOINT_URL="http://127.0.0.1:${1:-4566}"
export AWS_REGION="${AWS_REGION:-eu-west-3}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
# Never read the developer's real ~/.aws profiles by accident.
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
