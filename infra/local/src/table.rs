//! Creates the local table from `template.yaml`'s own definition, so the table a developer
//! tests against cannot drift from the one `sam deploy` creates.

use std::path::Path;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("template.yaml does not hold a usable table definition: {0}")]
    Template(String),
    #[error("DynamoDB refused to create the table: {0}")]
    Create(String),
}

/// The `Properties` of the template's `AWS::DynamoDB::Table`, as far as a table's shape goes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyElement>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexDef>,
    pub stream_specification: Option<StreamDef>,
    pub time_to_live_specification: Option<TtlDef>,
    pub point_in_time_recovery_specification: Option<PitrDef>,
    pub billing_mode: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    pub index_name: String,
    pub key_schema: Vec<KeyElement>,
    pub projection: ProjectionDef,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    pub projection_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDef {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TtlDef {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PitrDef {
    pub point_in_time_recovery_enabled: bool,
}

impl TableDefinition {
    /// Reads the first `AWS::DynamoDB::Table` resource of a SAM/CloudFormation template.
    pub fn from_template_file(path: &Path) -> Result<TableDefinition, TableError> {
        let text = std::fs::read_to_string(path).map_err(|e| TableError::Read(path.display().to_string(), e))?;
        TableDefinition::from_template(&text)
    }

    pub fn from_template(text: &str) -> Result<TableDefinition, TableError> {
        // CloudFormation's short-form tags (!Ref, !GetAtt) parse as tagged values; the table
        // itself must not use them, which deserialising its properties checks.
        let template: serde_norway::Value = serde_norway::from_str(text).map_err(|e| TableError::Template(e.to_string()))?;
        let resources =
            template.get("Resources").and_then(|r| r.as_mapping()).ok_or_else(|| TableError::Template("no Resources".into()))?;
        let table = resources
            .values()
            .find(|r| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::DynamoDB::Table"))
            .ok_or_else(|| TableError::Template("no AWS::DynamoDB::Table resource".into()))?;
        let properties = table.get("Properties").cloned().ok_or_else(|| TableError::Template("no Properties".into()))?;
        serde_norway::from_value(properties).map_err(|e| TableError::Template(e.to_string()))
    }

    /// Creates `name` with this definition, then turns on TTL and point-in-time recovery as
    /// the template does (CreateTable takes neither).
    pub async fn create(&self, client: &Client, name: &str) -> Result<(), TableError> {
        let create_error = |e: String| TableError::Create(e);
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::from(self.billing_mode.as_str()))
            .set_attribute_definitions(Some(
                self.attribute_definitions
                    .iter()
                    .map(|a| {
                        AttributeDefinition::builder()
                            .attribute_name(&a.attribute_name)
                            .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                            .build()
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| create_error(e.to_string()))?,
            ))
            .set_key_schema(Some(key_schema(&self.key_schema)?));
        for index in &self.global_secondary_indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.index_name)
                    .set_key_schema(Some(key_schema(&index.key_schema)?))
                    .projection(
                        Projection::builder().projection_type(ProjectionType::from(index.projection.projection_type.as_str())).build(),
                    )
                    .build()
                    .map_err(|e| create_error(e.to_string()))?,
            );
        }
        if let Some(stream) = &self.stream_specification {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                    .build()
                    .map_err(|e| create_error(e.to_string()))?,
            );
        }
        request.send().await.map_err(|e| create_error(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;

        if let Some(ttl) = &self.time_to_live_specification {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(ttl.enabled)
                        .build()
                        .map_err(|e| create_error(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| create_error(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        }
        if let Some(pitr) = &self.point_in_time_recovery_specification {
            client
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(pitr.point_in_time_recovery_enabled)
                        .build()
                        .map_err(|e| create_error(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| create_error(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        }
        Ok(())
    }

    /// Creates the table unless a table of that name exists already (a restarted `make run`
    /// against a moto that kept its data).
    pub async fn ensure(&self, client: &Client, name: &str) -> Result<bool, TableError> {
        if client.describe_table().table_name(name).send().await.is_ok() {
            return Ok(false);
        }
        self.create(client, name).await?;
        Ok(true)
    }
}

fn key_schema(elements: &[KeyElement]) -> Result<Vec<KeySchemaElement>, TableError> {
    elements
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| TableError::Create(e.to_string()))
        })
        .collect()
}
