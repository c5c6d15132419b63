"""Every setting of the service, in one place, read from SYMLEDGER_* environment variables.

The defaults are the embedded local profile (anvil on 127.0.0.1:8545, SQLite in ./data); a deployment
against Besu and PostgreSQL changes settings only, never code.
"""

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYMLEDGER_", env_file=None, extra="ignore")

    data_dir: Path = Field(Path("data"), description="Chain state, database, keys and deployment record")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")
    rpc_url: str = "http://127.0.0.1:8545"
    chain_id: int | None = Field(None, description="Expected chain id; the node's is used when unset")
    poa_chain: bool = Field(False, description="Inject the extra-data middleware (QBFT/IBFT/Clique)")
    gas_price_wei: int | None = Field(0, description="0 on free-gas permissioned chains; None: ask node")
    artifacts_dir: Path = REPO_ROOT / "build" / "contracts"
    contract_sources: Path = Field(
        REPO_ROOT, description="Source tree the deployed bytecode is verified against (docs/verification.md)"
    )
    deployment_file: Path | None = None
    relayer_keystore: Path | None = None
    relayer_password_file: Path | None = None
    statement_ttl_seconds: int = Field(86_400, description="Default deadline of prepared statements")
    receipt_timeout_seconds: float = Field(15.0, description="How long a submission waits for mining")
    receipt_poll_seconds: float = 0.05
    indexer_poll_seconds: float = 1.0
    # QBFT (production) has immediate finality: a block once added is never replaced, so 0 is right there
    # too. A chain with probabilistic finality would need its reorganisation depth here (e.g. 12 on
    # proof-of-work-like chains); reorganisations shallower than this never reach the read model.
    confirmations: int = Field(
        0, ge=0, description="Depth a block must have before the indexer applies it (0: the head)"
    )
    relayer_retry_seconds: float = 5.0
    max_batch_gas: int = Field(
        25_000_000,
        gt=0,
        description="Most gas one recordBatch transaction may take: below the chain's block gas limit "
        "(30M on anvil and in docs/deploy.md's genesis); a larger batch is sent in parts",
    )
    rpc_timeout_seconds: float = 10.0
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(None, description="URL parties reach the API at; default http://host:port")
    sign_in_challenge_seconds: int = Field(300, description="How long a sign-in challenge can be signed")
    access_token_seconds: int = Field(900, description="Lifetime of the bearer token a sign-in gives")
    idempotency_ttl_seconds: int = Field(86_400, description="How long an Idempotency-Key's answer is kept")

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ledger.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @cached_property
    def resolved_deployment_file(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"

    @cached_property
    def resolved_relayer_keystore(self) -> Path:
        return self.relayer_keystore or self.data_dir / "keys" / "relayer.json"

    @cached_property
    def resolved_relayer_password_file(self) -> Path:
        return self.relayer_password_file or self.data_dir / "keys" / "relayer.password"

    # --- documents (ledger_service.documents) ------------------------------------------------------
    master_key_file: Path | None = Field(
        None, description="32-byte key wrapping documents' data keys; default data_dir/keys/master.key"
    )
    documents_dir: Path | None = Field(
        None, description="Encrypted document blobs; default data_dir/documents"
    )
    document_max_bytes: int = Field(25 * 1024 * 1024, description="Largest document accepted for upload")

    @cached_property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "keys" / "master.key"

    @cached_property
    def resolved_documents_dir(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

    # --- webhook notifications (ledger_service.notifications) --------------------------------------
    webhook_timeout_seconds: float = Field(5.0, description="How long one delivery attempt may take")
    webhook_max_attempts: int = Field(10, ge=1, description="Attempts before a delivery is marked failed")
    webhook_backoff_base_seconds: float = Field(
        10.0, gt=0, description="Wait before the second attempt; it doubles after each failed attempt"
    )
    webhook_backoff_cap_seconds: float = Field(3600.0, gt=0, description="Longest wait between attempts")
    webhook_backoff_jitter: float = Field(
        0.25, ge=0, lt=1, description="Each wait is shortened by a random fraction up to this much"
    )
    webhook_batch_size: int = Field(16, ge=1, description="Deliveries attempted per notifier round")
    webhook_concurrency: int = Field(8, ge=1, description="Deliveries sent in parallel")
    webhook_subscriptions_per_party: int = Field(
        20, ge=1, description="Active subscriptions a party may hold"
    )

    # --- verification (ledger_service.casefiles, compliance) -------------------------------------
    compliance_pack: str = Field("VN", description="The rule pack a verification uses unless it names one")
    compliance_overrides: dict[str, dict[str, int | str | list[int | str]]] = Field(
        default_factory=dict,
        description='Per pack, values of its unconfirmed ([U]) parameters: {"VN": {"RULE-ID.name": 30}}',
    )
    kpi_factors_file: Path | None = Field(
        None,
        description="Emission factors and water media for the KPIs (default: compliance/factors/kpi-factors.json)",
    )
    kpi_factor_overrides: dict[str, int] = Field(
        default_factory=dict,
        description='kg CO2 per tonne by factor name, in place of the file\'s: {"steam-replaces-gas-boiler": 190}',
    )
    verification_max_records: int = Field(
        20_000, ge=1, description="Most lots and processings a lot's lineage may have to be verified"
    )
