//! Each function starts with exactly the environment `infra/template.yaml` gives it.
//!
//! The template's variables (Globals plus the function's own) are resolved the way CloudFormation would for
//! a stack deployed with the parameters' defaults (`!Ref` of a parameter → its default, `!FindInMap` →
//! the mapping, `!If` → the branch its condition picks, a resource → a stand-in name). Then each
//! function's own start-up code reads them, with the bot token's secret answered by a stub. This is how
//! a deployed function that could not start would show up here: the sync function once read only
//! `DISCORD_BOT_TOKEN`, which the stack never sets.
//!
//! The dashboard (`Dashboard=enabled`) also reads its OAuth2 client secret and cookie key from the
//! SecureString parameters the stack names, and sends Discord the redirect address the stack outputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use engagement_bot_token::{
    SecretSource, TOKEN_PARAMETER_VAR, TOKEN_SECRET_VAR, TOKEN_VAR, TokenStore, bot_token,
    discord_config,
};
use engagement_startup::Env;
use engagement_testkit::signing::DEV_PUBLIC_KEY_HEX;
use serde_norway::Value;
use support::template::{decided, holds, parameters, template};

/// Stand-ins for the parameters without a default (the operator's own values).
const REQUIRED_PARAMETERS: [(&str, &str); 2] =
    [("DiscordPublicKey", DEV_PUBLIC_KEY_HEX), ("DiscordApplicationId", "1234567890123456789")];

/// AWS holding the token in the parameter the default stack names (the deploy guide creates it), and in
/// the secret a `BotTokenStore=secret` stack creates; and the dashboard's two parameters under the
/// default names (the deploy guide creates them too).
struct Secrets;

/// The dashboard's cookie key as `openssl rand -hex 32` makes it.
const SESSION_KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

impl SecretSource for Secrets {
    async fn read(&self, store: TokenStore, id: &str) -> Result<String, String> {
        match (store, id) {
            (TokenStore::Parameter, "/discord-engagement/bot-token") => {
                Ok("token-from-the-parameter".to_owned())
            }
            (TokenStore::Secret, "stack-BotTokenSecret") => Ok("token-from-the-secret".to_owned()),
            (TokenStore::Parameter, "/discord-engagement/client-secret") => {
                Ok("client-secret-from-the-parameter".to_owned())
            }
            (TokenStore::Parameter, "/discord-engagement/dashboard-session-key") => {
                Ok(SESSION_KEY_HEX.to_owned())
            }
            _ => Err(format!("not found: {store:?} {id}")),
        }
    }
}

/// What CloudFormation would put in a variable, for the default stack.
fn resolve(t: &Value, value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Tagged(tagged) if tagged.tag == "Ref" => {
            let name = tagged.value.as_str().expect("!Ref names a string");
            if let Some(parameter) = t["Parameters"].get(name) {
                match parameter.get("Default") {
                    Some(default) => resolve(t, default),
                    None => REQUIRED_PARAMETERS
                        .iter()
                        .find(|(p, _)| *p == name)
                        .map(|(_, v)| (*v).to_owned())
                        .unwrap_or_else(|| panic!("no stand-in for the required parameter {name}")),
                }
            } else {
                assert!(t["Resources"].get(name).is_some(), "!Ref {name}: no such resource");
                format!("stack-{name}")
            }
        }
        Value::Tagged(tagged) if tagged.tag == "FindInMap" => {
            let path = tagged.value.as_sequence().expect("!FindInMap takes a list");
            let [map, first, second] = &path[..] else { panic!("!FindInMap takes three names") };
            let key = |v: &Value| resolve(t, v);
            resolve(t, &t["Mappings"][key(map).as_str()][key(first).as_str()][key(second).as_str()])
        }
        Value::Tagged(tagged) if tagged.tag == "If" => {
            let branches = tagged.value.as_sequence().expect("!If takes a list");
            let [condition, yes, no] = &branches[..] else { panic!("!If takes three values") };
            let name = condition.as_str().expect("!If names a condition");
            let stack = parameters(t, &[]);
            resolve(t, if holds(t, &stack, &t["Conditions"][name]) { yes } else { no })
        }
        other => panic!("cannot resolve {other:?}"),
    }
}

/// The environment of the function whose binary is `name`, as deployed.
fn environment(name: &str) -> BTreeMap<String, String> {
    environment_with(name, &[])
}

/// As [`environment`], for a stack deployed with `overrides` (parameter, value) instead of the defaults.
fn environment_with(name: &str, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut t = template();
    for (parameter, value) in overrides {
        assert!(t["Parameters"].get(*parameter).is_some(), "no parameter {parameter}");
        t["Parameters"][*parameter]["Default"] = Value::String((*value).to_owned());
    }
    let stack = parameters(&t, &[]);
    let resources = t["Resources"].as_mapping().expect("Resources");
    let functions: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(name))
        .collect();
    assert_eq!(functions.len(), 1, "one function builds the binary {name}");
    let mut env = BTreeMap::new();
    for block in [&t["Globals"]["Function"], &functions[0]["Properties"]] {
        if let Some(vars) = block["Environment"]["Variables"].as_mapping() {
            for (key, value) in vars {
                // Unset where the branch its conditions pick is `!Ref AWS::NoValue`.
                if let Some(value) = decided(&t, &stack, value).map(|v| resolve(&t, &v)) {
                    env.insert(key.as_str().expect("variable name").to_owned(), value);
                }
            }
        }
    }
    assert!(!env.contains_key(TOKEN_VAR), "{name}: the bot token is never a plain variable");
    env
}

fn lookup(env: &BTreeMap<String, String>) -> Env {
    let env = env.clone();
    Env::from_lookup(move |name| env.get(name).cloned())
}

#[tokio::test]
async fn the_sync_function_starts_with_the_stacks_environment() {
    let env = environment("sync");
    assert!(env.contains_key(TOKEN_PARAMETER_VAR), "{env:?}");
    assert!(!env.contains_key(TOKEN_SECRET_VAR), "{env:?}");
    let settings = sync::SyncSettings::from_env(&lookup(&env)).expect("sync settings");
    assert_eq!(settings.time_budget.as_secs(), 270);
    assert_eq!(settings.idle_ceiling.as_secs(), 3600);
    let token = bot_token(&lookup(&env), &Secrets).await.expect("the bot token");
    let discord = discord_config(&lookup(&env), token).expect("the Discord configuration");
    assert_eq!(discord.token.expose(), "token-from-the-parameter");
    assert!(env.get("TABLE_NAME").is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn with_the_token_in_secrets_manager_the_functions_read_the_stacks_secret_or_the_one_given() {
    for function in ["sync", "followup"] {
        let env = environment_with(function, &[("BotTokenStore", "secret")]);
        assert!(!env.contains_key(TOKEN_PARAMETER_VAR), "{env:?}");
        assert_eq!(env.get(TOKEN_SECRET_VAR).map(String::as_str), Some("stack-BotTokenSecret"));
        let token = bot_token(&lookup(&env), &Secrets).await.expect("the bot token");
        assert_eq!(token, "token-from-the-secret");
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mine";
        let given =
            environment_with(function, &[("BotTokenStore", "secret"), ("BotTokenSecretArn", arn)]);
        assert_eq!(given.get(TOKEN_SECRET_VAR).map(String::as_str), Some(arn));
    }
    let sync = environment_with("sync", &[("Monitoring", "full")]);
    let settings = sync::SyncSettings::from_env(&lookup(&sync)).expect("sync settings");
    assert_eq!(settings.metrics, sync::MetricsLevel::Full);
}

#[tokio::test]
async fn the_followup_function_starts_with_the_stacks_environment() {
    let env = environment("followup");
    let settings =
        followup::Settings::from_env(&lookup(&env), &Secrets).await.expect("followup settings");
    assert_eq!(settings.discord.token.expose(), "token-from-the-parameter");
    assert_eq!(settings.table_name, "stack-Table");
}

#[test]
fn the_interactions_function_starts_with_the_stacks_environment() {
    let env = environment("interactions");
    interactions::EndpointSettings::from_env(&lookup(&env)).expect("signature settings");
    let commands =
        interactions::CommandSettings::from_env(&lookup(&env)).expect("command settings");
    assert_eq!(commands.table_name, "stack-Table");
    assert_eq!(commands.followup_function, "stack-FollowupFunction");
    assert!(
        !env.contains_key(TOKEN_SECRET_VAR) && !env.contains_key(TOKEN_PARAMETER_VAR),
        "the endpoint never needs the bot token"
    );
}

/// What a function URL looks like (it ends with `/`).
const FUNCTION_URL: &str = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/";

/// An output's value once the dashboard's function URL is [`FUNCTION_URL`].
fn dashboard_output(t: &Value, name: &str) -> String {
    let output = &t["Outputs"][name];
    assert_eq!(output["Condition"].as_str(), Some("DashboardEnabled"), "{name} is conditional");
    let Value::Tagged(tagged) = &output["Value"] else { panic!("{name}: {output:?}") };
    let text = tagged.value.as_str().expect("a string");
    let value = match tagged.tag.to_string().as_str() {
        "!GetAtt" | "GetAtt" => {
            assert_eq!(text, "DashboardFunctionUrl.FunctionUrl", "{name}");
            FUNCTION_URL.to_owned()
        }
        "!Sub" | "Sub" => text.replace("${DashboardFunctionUrl.FunctionUrl}", FUNCTION_URL),
        other => panic!("{name}: cannot resolve {other}"),
    };
    assert!(!value.contains("${"), "{name}: {value}");
    value
}

#[tokio::test]
async fn the_dashboard_starts_with_the_stacks_environment_wherever_the_bot_token_is() {
    let env = environment_with("dashboard", &[("Dashboard", "enabled")]);
    assert!(
        !env.contains_key("DISCORD_CLIENT_SECRET"),
        "the client secret is never a plain variable"
    );
    assert!(!env.contains_key("DASHBOARD_SESSION_KEY"), "the cookie key is never a plain variable");
    let settings = dashboard::DashboardSettings::from_env(&lookup(&env), &Secrets)
        .await
        .expect("dashboard settings");
    assert_eq!(settings.discord.token.expose(), "token-from-the-parameter");
    assert_eq!(settings.oauth.client_id, 1_234_567_890_123_456_789);
    assert_eq!(settings.oauth.client_secret, "client-secret-from-the-parameter");
    assert_eq!(settings.table_name, "stack-Table");
    assert_eq!(settings.public_url, None, "the address is the function URL's");
    assert!(!env.contains_key(TOKEN_SECRET_VAR), "{env:?}");
    // The cookies are signed with the key from the session key's parameter, decoded from hex.
    let bytes = (0..SESSION_KEY_HEX.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&SESSION_KEY_HEX[i..i + 2], 16).expect("hex"))
        .collect();
    let key = dashboard::session::SessionKey::new(bytes).expect("a key");
    let sealed = settings.session_key.seal("probe", &"probe".to_owned());
    let opened = key.open::<String>("probe", &sealed);
    assert_eq!(opened.as_deref(), Some("probe"), "signed with another key");

    let env =
        environment_with("dashboard", &[("Dashboard", "enabled"), ("BotTokenStore", "secret")]);
    assert!(!env.contains_key(TOKEN_PARAMETER_VAR), "{env:?}");
    let settings = dashboard::DashboardSettings::from_env(&lookup(&env), &Secrets)
        .await
        .expect("dashboard settings, token in Secrets Manager");
    assert_eq!(settings.discord.token.expose(), "token-from-the-secret");
    assert_eq!(settings.oauth.client_secret, "client-secret-from-the-parameter");
}

/// The login sends Discord, as `redirect_uri`, exactly the `DashboardRedirectUrl` output: what the
/// operator registers in the developer portal (Discord refuses any other).
#[tokio::test]
async fn the_dashboard_sends_discord_the_redirect_the_stack_outputs() {
    let t = template();
    let registered = dashboard_output(&t, "DashboardRedirectUrl");
    assert_eq!(registered, format!("{FUNCTION_URL}callback"));
    assert_eq!(dashboard_output(&t, "DashboardUrl"), FUNCTION_URL);

    let env = environment_with("dashboard", &[("Dashboard", "enabled")]);
    let settings = dashboard::DashboardSettings::from_env(&lookup(&env), &Secrets)
        .await
        .expect("dashboard settings");
    let discord = engagement_discord::DiscordClient::new(settings.discord.clone()).expect("client");
    // Never used: the login reads nothing from the table.
    let sdk = engagement_store::LazySdk::new(engagement_store::sdk_defaults);
    let store = engagement_store::CounterStore::lazy(sdk, settings.table_name.clone());
    let app = dashboard::Dashboard::new(settings, discord, store).expect("the dashboard");
    let host = FUNCTION_URL.trim_start_matches("https://").trim_end_matches('/');
    let request = lambda_http::http::Request::builder()
        .method("GET")
        .uri("/login")
        .header("host", host)
        .body(lambda_http::Body::Empty)
        .expect("a request");
    let response = app.handle(request, 1_767_225_600_000).await;
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ASCII");
    let url = reqwest::Url::parse(location).expect("a URL");
    let sent: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(sent, [registered]);
}
