//! Provider secrets read from Secrets Manager (moto) the way the functions do at cold start.

use relance::secrets::Secrets;

#[tokio::test]
async fn secrets_come_from_the_secret_named_by_its_arn() {
    let sdk = relance_tests::sdk().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("relance-test-{}", ulid::Ulid::new());
    let created = client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"STRIPE_WEBHOOK_SECRET": "whsec_new,whsec_old", "BRAINTREE_PUBLIC_KEY": "pub", "BRAINTREE_PRIVATE_KEY": "priv", "SHOPIFY_WEBHOOK_SECRET": "", "RELANCE_WEBHOOK_SECRET": "", "HOLDED_API_KEY": ""}"#)
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap();
    let secrets = Secrets::from_secrets_manager(&client, arn).await.unwrap();
    assert_eq!(secrets.stripe_webhook, vec!["whsec_new", "whsec_old"]);
    assert_eq!(secrets.braintree.len(), 1);
    assert!(secrets.shopify_webhook.is_empty(), "an empty value means not configured");
    assert!(secrets.holded_api_key.is_none());

    assert!(Secrets::from_secrets_manager(&client, "arn:aws:secretsmanager:eu-west-3:123456789012:secret:missing").await.is_err());
    client.put_secret_value().secret_id(arn).secret_string("not json").send().await.unwrap();
    assert!(Secrets::from_secrets_manager(&client, arn).await.is_err());
}
