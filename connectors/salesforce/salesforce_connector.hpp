// Salesforce connector: Contact, Lead, Account and custom objects (`__c`) over the REST API
// (SOQL reads, sObject Collections writes), through the HTTP layer in src/net. API behaviour:
// ../shared/API-FACTS.md, "Salesforce REST".
#pragma once

#include "connectors/registry.hpp"

namespace synctool::connectors {

const ConnectorType& salesforce_connector_type();

}  // namespace synctool::connectors
