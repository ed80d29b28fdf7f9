"""A px-data-loader config.json as `--map`: recognised by content, read with the loader's meanings, its
apiKey never kept; its timezone/productKey/dataCenter are the weakest defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchgs import config
from batchgs.config import FileDefaults
from batchgs.entities import registry
from batchgs.errors import ConfigError, InputFileError
from batchgs.io.loader_config import DEV_BASE_URL, sniff_loader_config
from batchgs.io.mapping import describe, mapping_from

KEY = "0f3c9a51-6b7e-4d2a-9c1e-8a7b6c5d4e3f"


def write_config(folder: Path, name: str = "settings.cfg", **changes: Any) -> Path:
    data: dict[str, Any] = {
        "apiKey": KEY,
        "productKey": "AP-1",
        "dataCenter": "EU",
        "timezone": "Europe/Paris",
        "fieldMapping": {
            "USER": {
                "identifyId": "User ID",
                "title": "Job Title",
                "lastSeenDate": "Last Seen",
                "customAttributes.plan": "Plan",
            },
            "CUSTOM_EVENT": {
                "identifyId": "User ID",
                "eventName": "Event Name",
                "attributes.Source": "Source",
            },
        },
    }
    data.update(changes)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_recognised_by_content_whatever_its_name(tmp_path: Path) -> None:
    loader = sniff_loader_config(write_config(tmp_path, "no-extension"))
    assert loader is not None
    assert (loader.timezone, loader.product_key, loader.region, loader.base_url) == (
        "Europe/Paris",
        "AP-1",
        "eu",
        None,
    )
    assert loader.has_api_key and KEY not in repr(loader)
    toml = tmp_path / "map.json"  # a TOML map stays a TOML map, whatever its name
    toml.write_text('[columns]\n"User Key" = "identifyId"\n', encoding="utf-8")
    assert sniff_loader_config(toml) is None
    assert describe(mapping_from(["User Key"], registry.get("users"), toml)) == {"User Key": "identifyId"}


def test_loader_mapping_ignores_unlisted_columns_and_read_only_fields(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    users = mapping_from(["User ID", "Job Title", "Last Seen", "Plan", "Notes"], registry.get("users"), path)
    assert describe(users) == {"User ID": "identifyId", "Job Title": "title", "Plan": "customAttributes.plan"}
    assert users.notices == [
        "column(s) not in the loader config's fieldMapping, ignored: Notes",
        "read-only column(s) skipped, never sent: Last Seen",
    ]
    events = mapping_from(["User ID", "Event Name", "Source"], registry.get("events"), path)
    source = events.target("attributes.Source")
    assert source is not None and source.as_text  # the loader sends attributes as the text written
    assert not any(t.as_text for t in users.targets)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"fieldMapping": {"USER": {"identifyId": "User ID", "nickname": "Nick"}}},
            "mapping file: fieldMapping 'Nick' = 'nickname': 'nickname' is not a field of users",
        ),
        (
            {"fieldMapping": {"USER": {"identifyId": "User ID", "title": "User ID"}}},
            "fieldMapping.USER maps header 'User ID' to several fields",
        ),
        (
            {"fieldMapping": {"USER": ["identifyId"]}},
            "fieldMapping.USER must map API field names to CSV headers",
        ),
        ({"dataCenter": "APAC"}, "unknown dataCenter 'APAC'"),
        (
            {"fieldMapping": {"ACCOUNT": {"id": "Account ID"}}},
            "loader config has no fieldMapping.USER section for users (it has: ACCOUNT)",
        ),
    ],
)
def test_bad_configs_are_refused_naming_the_file(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = write_config(tmp_path, **changes)
    with pytest.raises(InputFileError) as caught:
        mapping_from(["User ID", "Nick"], registry.get("users"), path)
    assert caught.value.message.startswith(f"{path}: ")
    assert message in caught.value.message
    assert KEY not in caught.value.message


def test_json_without_field_mapping_is_not_taken_for_a_loader_config(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text('{"columns": {"User Key": "identifyId"}}', encoding="utf-8")
    with pytest.raises(InputFileError, match="must be a px-data-loader config with a fieldMapping object"):
        sniff_loader_config(path)


def test_product_key_list_and_dev_data_center(tmp_path: Path) -> None:
    loader = sniff_loader_config(
        write_config(tmp_path, productKey=["AP-1", "AP-2"], dataCenter="DEV", apiKey="")
    )
    assert loader is not None
    assert (loader.product_key, loader.region, loader.base_url) == ("AP-1,AP-2", None, DEV_BASE_URL)
    assert not loader.has_api_key and loader.api_key_warning() is None


def test_file_defaults_are_the_weakest_source(tmp_path: Path) -> None:
    defaults = FileDefaults(region="eu", base_url=None, product_key="AP-FILE")
    none = tmp_path / "empty.toml"
    none.write_text("", encoding="utf-8")
    nothing = config.resolve(env={}, profile_path=none, file_defaults=defaults)
    assert (nothing.px_base_url, nothing.product_key) == (config.PX_REGIONS["eu"], "AP-FILE")
    env = {"GAINSIGHT_PX_REGION": "us2", "GAINSIGHT_PX_PRODUCT_KEY": "AP-ENV"}
    from_env = config.resolve(env=env, profile_path=none, file_defaults=defaults)
    assert (from_env.px_base_url, from_env.product_key) == (config.PX_REGIONS["us2"], "AP-ENV")
    options = config.resolve(
        env=env, region="us", product_key="AP-OPT", profile_path=none, file_defaults=defaults
    )
    assert (options.px_base_url, options.product_key) == (config.PX_REGIONS["us"], "AP-OPT")
    profile = tmp_path / "batchgs.toml"
    profile.write_text('[default]\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    dev = FileDefaults(base_url=DEV_BASE_URL)
    assert config.resolve(env={}, profile_path=profile, file_defaults=dev).px_base_url == "http://127.0.0.1:9"
    assert config.resolve(env={}, profile_path=none, file_defaults=dev).px_base_url == DEV_BASE_URL
    assert (
        config.resolve(env={}, region="eu", profile_path=none, file_defaults=dev).px_base_url
        == config.PX_REGIONS["eu"]
    )
    with pytest.raises(ConfigError):
        config.resolve(env={}, profile_path=none, file_defaults=FileDefaults(region="mars"))


def test_user_preferences_section_maps_for_preferences(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, fieldMapping={"USER_PREFERENCES": {"identifyId": "User_Id", "trackUsage": "track_usage"}}
    )
    mapping = mapping_from(["User_Id", "track_usage"], registry.get("preferences"), path)
    assert describe(mapping) == {"User_Id": "identifyId", "track_usage": "trackUsage"}


def test_the_readme_toml_example_works(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("**A TOML map**", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "people-map.toml"
    path.write_text(example, encoding="utf-8")
    headers = ["Customer Number", "Tier", "Old Column", "Notes", "Internal ref", "Email"]
    mapping = mapping_from(headers, registry.get("users"), path)
    assert describe(mapping) == {
        "Customer Number": "identifyId",
        "Tier": "customAttributes.tier",
        "Email": "email",
        "location.countryCode (constant)": "location.countryCode",
    }
    assert set(mapping.ignored) == {"Old Column", "Notes", "Internal ref"}
