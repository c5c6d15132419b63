// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title CalendarYear
 * @notice The UTC calendar year of a unix time, for accounts kept per year (a permit's yearly capacity).
 */
library CalendarYear {
    /// @dev Howard Hinnant's days-to-civil algorithm, keeping only the year.
    function fromTimestamp(uint256 timestamp) internal pure returns (uint256) {
        uint256 z = timestamp / 1 days + 719_468;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097;
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint256 mp = (5 * doy + 2) / 153;
        // Months are counted from March: January and February (mp 10, 11) belong to the next year.
        return yoe + era * 400 + (mp >= 10 ? 1 : 0);
    }
}
